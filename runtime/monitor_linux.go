package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/berthdev/berth/internal/statefile"
)

// A detached container is watched by a monitor: a small process of its own
// (the berth binary, re-executed as MonitorCommand in a session of its own,
// reparented to init when the CLI exits; like conmon, but started with one
// exec instead of a double fork). The monitor starts the container,
// writes its output to the log file, records its exit, applies the restart
// policy and runs health probes. It needs no daemon and outlives the CLI;
// if it is killed, the container runs on and Inspect says so.

// monitorSettle is how long after starting its container a monitor
// returns the memory that starting took.
const monitorSettle = 3 * time.Second

// Start starts a created or stopped container under a new monitor and
// returns once its process runs (or has failed to start). Starting a
// running container does nothing; one whose monitor was lost is Adopt's.
func (r *Runtime) Start(ctx context.Context, ref string) error {
	info, err := r.Inspect(ctx, ref)
	if err != nil {
		return err
	}
	switch info.Status {
	case StatusRunning, StatusPaused, StatusRestarting:
		return nil
	}
	id := info.ID
	if err := r.cleanupExited(id); err != nil {
		return err
	}
	os.Remove(filepath.Join(r.dir(id), "stop-requested"))
	_, err = r.spawnMonitor(info, false)
	return err
}

// Adopt gives a container that runs on without its monitor (it was
// killed) a new one, which collects its output again, serves its name
// server, runs its health checks, records its exit code and applies its
// restart policy; what the container wrote while no monitor ran is lost.
// Lost lists what the new monitor could not take over, and why. A
// container that is not running is ErrNotRunning; one whose monitor lives
// is left alone.
func (r *Runtime) Adopt(ctx context.Context, ref string) (lost []string, err error) {
	info, err := r.Inspect(ctx, ref)
	if err != nil {
		return nil, err
	}
	if info.Status != StatusRunning && info.Status != StatusPaused {
		return nil, fmt.Errorf("%w: %s", ErrNotRunning, info.Name)
	}
	if info.MonitorAlive {
		return nil, nil
	}
	lost, err = r.spawnMonitor(info, true)
	if err != nil {
		// The monitor's report is text: whether the container ended in
		// the meantime is asked again.
		if now, ierr := r.Inspect(ctx, info.ID); ierr == nil && now.Status != StatusRunning && now.Status != StatusPaused {
			return nil, fmt.Errorf("%w: %s", ErrNotRunning, info.Name)
		}
		return nil, err
	}
	return lost, nil
}

// spawnMonitor starts the monitor of a container (adopting its running
// init when adopt) and waits until it reports the container started. The
// monitor's report is lines "lost: ..." (what an adopting monitor could
// not take over), then "ok" or "error: ...".
func (r *Runtime) spawnMonitor(info Info, adopt bool) (lost []string, err error) {
	id := info.ID
	rd, wr, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	logf, err := os.OpenFile(filepath.Join(r.dir(id), "monitor.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		wr.Close()
		return nil, err
	}
	defer logf.Close()
	args := []string{MonitorCommand, "--root", r.root, "--state", r.state}
	if adopt {
		args = append(args, "--adopt")
	}
	cmd := exec.Command(r.exe, append(args, id)...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.ExtraFiles = []*os.File{wr}
	// The monitor runs in a session of its own, detached from the
	// caller's terminal and signals. It stays this process's child only
	// while this process lives (a goroutine reaps it should it end first);
	// after that it is init's. One exec instead of a double fork keeps
	// starting a stack cheap.
	// A monitor mostly waits; one P spares it the threads, GC workers
	// and scheduling of more (8% of the CPU time of starting a stack).
	cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	cmd.Dir = "/"
	if err := cmd.Start(); err != nil {
		wr.Close()
		return nil, fmt.Errorf("starting the monitor of %s: %w", info.Name, err)
	}
	wr.Close()
	writeMonitorPid(r.dir(id), cmd.Process.Pid)
	go cmd.Wait()
	msg, _ := io.ReadAll(rd)
	for _, l := range strings.Split(strings.TrimSpace(string(msg)), "\n") {
		switch {
		case l == "ok":
			return lost, nil
		case strings.HasPrefix(l, "lost: "):
			lost = append(lost, strings.TrimPrefix(l, "lost: "))
		case strings.HasPrefix(l, "error: "):
			return lost, errors.New(strings.TrimPrefix(l, "error: "))
		}
	}
	return lost, fmt.Errorf("the monitor of %s exited before starting it; see %s", info.Name, logf.Name())
}

// RunMonitor is the body of the hidden monitor command: it runs the
// container until it is done for good. With adopt it takes over the
// container's running init from a monitor that was lost instead of
// starting one. ready is the pipe on which the starter waits for the
// monitor's report.
func RunMonitor(root, state, id string, adopt bool, ready *os.File) error {
	r, err := Open(root, state, WithExecutable("/proc/self/exe"))
	if err != nil {
		fmt.Fprintf(ready, "error: %v\n", err)
		return err
	}
	// The starter records this process too, but may have been killed
	// before it could.
	writeMonitorPid(r.dir(id), os.Getpid())
	return r.monitor(id, adopt, ready)
}

// monitorPidFile names a container's monitor (pid and start time) from the
// moment it is started, before it records itself in status.json, so that
// removing the container finds a monitor that is still starting it.
const monitorPidFile = "monitor.pid"

type monitorPid struct {
	Pid   int    `json:"pid"`
	Start uint64 `json:"start"`
}

func writeMonitorPid(dir string, pid int) {
	statefile.WriteJSON(filepath.Join(dir, monitorPidFile), monitorPid{pid, procStart(pid)}, statefile.Options{})
}

func readMonitorPid(dir string) (int, uint64) {
	var m monitorPid
	statefile.ReadJSON(filepath.Join(dir, monitorPidFile), &m)
	return m.Pid, m.Start
}

func (r *Runtime) monitor(id string, adopt bool, ready *os.File) error {
	// A monitor has no terminal and must not die with one. The signals
	// are caught and dropped, not ignored: an ignored signal stays ignored
	// across exec, so every container would start with SIGINT and SIGHUP
	// ignored and could never act on `stop_signal: SIGINT`. A caught one
	// is back at its default in the container.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGHUP, syscall.SIGINT, syscall.SIGPIPE)
	dir := r.dir(id)
	fail := func(err error) error {
		fmt.Fprintf(ready, "error: %v\n", err)
		ready.Close()
		return err
	}
	// One monitor per container: the lock is held for this process's
	// life, so an adopting monitor cannot run beside a live one. A monitor
	// that starts the container waits for its predecessor to finish.
	if err := lockMonitor(dir, !adopt); err != nil {
		return fail(err)
	}
	var s Spec
	if err := statefile.ReadJSON(filepath.Join(dir, "spec.json"), &s); err != nil {
		return fail(err)
	}
	logw, err := newLogWriter(filepath.Join(dir, "container.log"), s.LogMaxSize, s.LogMaxFiles)
	if err != nil {
		return fail(err)
	}
	defer logw.Close()

	var lost []string
	if s.Resolver != nil && s.Network == NetworkPath {
		// The name server lives as long as the monitor, across restarts.
		if err := startResolver(context.Background(), s.NetNS, s.Resolver); err != nil {
			fmt.Fprintf(os.Stderr, "container %s: %v\n", s.Name, err)
			lost = append(lost, fmt.Sprintf("its name server (%v)", err))
		}
	}
	var rec record
	statefile.ReadJSON(filepath.Join(dir, "status.json"), &rec)
	if adopt && rec.MonitorPid != os.Getpid() && procAlive(rec.MonitorPid, rec.MonitorStart) {
		// A monitor of an older berth, which holds no lock.
		return fail(fmt.Errorf("the monitor of %s is running", s.Name))
	}
	rec.MonitorPid, rec.MonitorStart = os.Getpid(), procStart(os.Getpid())
	backoff := 100 * time.Millisecond
	first := true
	var inst *instance
	var outs *drain
	if adopt {
		var more []string
		if inst, outs, more, err = r.adoptInit(id, &s, &rec, logw); err != nil {
			return fail(err)
		}
		statefile.WriteJSON(filepath.Join(dir, "status.json"), &rec, statefile.Options{})
		// Reported before "ok", below.
		for _, l := range append(lost, more...) {
			fmt.Fprintf(ready, "lost: %s\n", l)
		}
	}
	for {
		if inst == nil {
			inst, outs, err = r.startLogged(id, &s, logw)
			if err != nil {
				rec.Status, rec.ExitCode, rec.Error, rec.Pid = StatusExited, 127, err.Error(), 0
				rec.FinishedAt, rec.OutputPipes = time.Now(), [2]uint64{}
				statefile.WriteJSON(filepath.Join(dir, "status.json"), &rec, statefile.Options{})
				r.dieEvent(id, &s, rec.ExitCode, time.Time{})
				if first {
					return fail(err)
				}
				return err
			}
			pid, _ := inst.p.Pid()
			rec.Status, rec.Pid, rec.PidStart, rec.Error = StatusRunning, pid, procStart(pid), ""
			rec.StartedAt, rec.FinishedAt, rec.ExitCode = time.Now(), time.Time{}, 0
			rec.OutputPipes = inst.pipes
			if s.Healthcheck != nil && len(s.Healthcheck.Test) > 0 && s.Healthcheck.Test[0] != "NONE" {
				rec.Health, rec.FailingCount = HealthStarting, 0
			}
			statefile.WriteJSON(filepath.Join(dir, "status.json"), &rec, statefile.Options{})
			r.event("start", id, &s)
		}
		if first {
			fmt.Fprintln(ready, "ok")
			ready.Close()
			first = false
			// What starting took is garbage now: an idle monitor should
			// hold as little memory as it can. Handing it back costs a
			// TLB shootdown per range, so it waits until a stack being
			// started alongside has settled (9% of the CPU time of
			// starting 20 containers otherwise).
			debug.SetGCPercent(25)
			time.AfterFunc(monitorSettle, debug.FreeOSMemory)
		}
		hctx, stopHealth := context.WithCancel(context.Background())
		hdone := make(chan struct{})
		go func() { defer close(hdone); r.probeLoop(hctx, id, &s, &rec) }()
		started := rec.StartedAt
		code := inst.wait()
		stopHealth()
		<-hdone
		outs.Wait()
		r.destroy(id, inst)
		inst = nil

		// Whether it restarts is decided, and recorded, before its die
		// event: a follower of the events that reads the state at a die
		// sees Restarting, or Exited for good.
		restart := r.shouldRestart(id, &s, code, rec.RestartCount)
		rec.Status, rec.ExitCode, rec.Pid, rec.FinishedAt = StatusExited, code, 0, time.Now()
		if restart {
			rec.Status = StatusRestarting
		}
		rec.OutputPipes = [2]uint64{}
		if code < 0 {
			rec.Error = "the container exited while its monitor was replaced; its exit status is unknown"
		}
		statefile.WriteJSON(filepath.Join(dir, "status.json"), &rec, statefile.Options{})
		r.dieEvent(id, &s, code, started)
		if !restart {
			return nil
		}
		// Backoff doubles while the container keeps failing fast, and
		// resets once a run lasted a while, as Docker's does.
		if time.Since(started) > 10*time.Second {
			backoff = 100 * time.Millisecond
		}
		deadline := time.Now().Add(backoff)
		for time.Now().Before(deadline) {
			if r.stopRequested(id) {
				rec.Status = StatusExited
				statefile.WriteJSON(filepath.Join(dir, "status.json"), &rec, statefile.Options{})
				return nil
			}
			time.Sleep(50 * time.Millisecond)
		}
		backoff = min(backoff*2, time.Minute)
		rec.RestartCount++
	}
}

// lockMonitor takes the container's monitor lock for the rest of this
// process's life, waiting a while for a monitor that is finishing when
// wait, failing at once otherwise.
func lockMonitor(dir string, wait bool) error {
	f, err := os.OpenFile(filepath.Join(dir, "monitor.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		locked, err := statefile.TryLock(f)
		if locked {
			// Held until the process ends: the descriptor is never closed.
			monitorLock = f
			return nil
		}
		if err != nil || !wait || time.Now().After(deadline) {
			f.Close()
			if err == nil {
				return errors.New("another monitor of the container is running")
			}
			return fmt.Errorf("locking the monitor: %w", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// monitorLock keeps the monitor lock's file open (and so locked).
var monitorLock *os.File

func (r *Runtime) stopRequested(id string) bool {
	_, err := os.Stat(filepath.Join(r.dir(id), "stop-requested"))
	return err == nil
}

func (r *Runtime) shouldRestart(id string, s *Spec, code, restarts int) bool {
	if r.stopRequested(id) {
		return false
	}
	switch s.Restart.Name {
	case "always", "unless-stopped":
		return true
	case "on-failure":
		return code != 0 && (s.Restart.MaxRetries <= 0 || restarts < s.Restart.MaxRetries)
	}
	return false
}

// startLogged starts an instance whose output goes to the log writer; the
// returned WaitGroup-like value finishes when the output is drained.
func (r *Runtime) startLogged(id string, s *Spec, logw *logWriter) (*instance, *drain, error) {
	d := &drain{done: make(chan struct{}, 2)}
	if s.Tty {
		inst, err := r.start(id, s, stdio{})
		if err != nil {
			return nil, nil, err
		}
		d.n = 1
		go func() { logw.copyStream("stdout", inst.console, nil); d.done <- struct{}{} }()
		return inst, d, nil
	}
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return nil, nil, err
	}
	defer devnull.Close()
	or, ow, err := os.Pipe()
	if err != nil {
		return nil, nil, err
	}
	er, ew, err := os.Pipe()
	if err != nil {
		or.Close()
		ow.Close()
		return nil, nil, err
	}
	inst, err := r.start(id, s, stdio{InFile: devnull, OutFile: ow, ErrFile: ew})
	ow.Close()
	ew.Close()
	if err != nil {
		or.Close()
		er.Close()
		return nil, nil, err
	}
	d.n = 2
	inst.pipes = [2]uint64{inode(or), inode(er)}
	go func() { logw.copyStream("stdout", or, nil); or.Close(); d.done <- struct{}{} }()
	go func() { logw.copyStream("stderr", er, nil); er.Close(); d.done <- struct{}{} }()
	return inst, d, nil
}

// drain waits for a container's output streams to reach EOF.
type drain struct {
	n    int
	done chan struct{}
}

// Wait returns when every stream is drained, or after a short grace when a
// process that outlived the container still holds one open.
func (d *drain) Wait() {
	timeout := time.After(2 * time.Second)
	for i := 0; i < d.n; i++ {
		select {
		case <-d.done:
		case <-timeout:
			return
		}
	}
}

// cleanupExited makes sure nothing of an earlier run is left before a new
// one: libcontainer state and the root file system mount.
func (r *Runtime) cleanupExited(id string) error {
	return r.destroy(id, nil)
}
