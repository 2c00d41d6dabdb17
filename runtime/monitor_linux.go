package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/berthdev/berth/internal/statefile"
	"github.com/berthdev/berth/internal/timing"
)

// A detached container is watched by a monitor, which runs in a keeper
// process (see keeper_linux.go): the berth binary, re-executed as
// MonitorCommand in a session of its own, reparented to init when the CLI
// exits; like conmon, but one for a whole group of containers (a project).
// The monitor starts the container, writes its output to the log file,
// records its exit, applies the restart policy and runs health probes. It
// needs no daemon and outlives the CLI; if its keeper is killed, the
// container runs on and Inspect says so.

// monitorSettle is how long after starting a container a keeper returns
// the memory that starting took.
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

// spawnMonitor hands a container to its keeper (see keeper_linux.go),
// adopting its running init when adopt, and waits until the keeper
// reports the container started. The keeper's report is lines "lost: ..."
// (what an adopting monitor could not take over), then "ok" or "error:
// ...".
func (r *Runtime) spawnMonitor(info Info, adopt bool) (lost []string, err error) {
	msg, pid, err := r.keeperRequest(info, adopt)
	if err != nil {
		return nil, err
	}
	if pid > 0 {
		writeMonitorPid(r.dir(info.ID), pid)
	}
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
	return lost, fmt.Errorf("the keeper of %s ended before starting it; see %s", info.Name, r.keeperDir())
}

// monitorPidFile names a container's keeper (pid and start time) from the
// moment it is handed the container, before it records itself in
// status.json.
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

// monitor runs a container until it is done for good, in its keeper: it
// starts it (or, with adopt, takes over its running init from a monitor
// that was lost), reports to ready, and keeps its log, health checks and
// restart policy. started is called each time the container has started,
// finished once the monitor is done, before it lets go of the container.
func (r *Runtime) monitor(id string, adopt bool, ready io.WriteCloser, started, finished func()) error {
	// finished runs before the monitor lock is released: a keeper that
	// watches nothing more leaves then, and whoever waits for the lock
	// (Remove) finds it gone too.
	unlock := func() {}
	defer func() {
		finished()
		unlock()
	}()
	dir := r.dir(id)
	writeMonitorPid(dir, os.Getpid())
	fail := func(err error) error {
		fmt.Fprintf(ready, "error: %v\n", err)
		ready.Close()
		return err
	}
	// One monitor per container: the lock is held for this process's
	// life, so an adopting monitor cannot run beside a live one. A monitor
	// that starts the container waits for its predecessor to finish.
	unlockMonitor, err := lockMonitor(dir, !adopt)
	if err != nil {
		return fail(err)
	}
	unlock = unlockMonitor
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
		}
		started()
		hctx, stopHealth := context.WithCancel(context.Background())
		hdone := make(chan struct{})
		go func() { defer close(hdone); r.probeLoop(hctx, id, &s, &rec) }()
		started := rec.StartedAt
		code := inst.wait()
		end := timing.Span("monitor: output, health")
		stopHealth()
		<-hdone
		outs.Wait()
		end()
		end = timing.Span("monitor: destroy")
		r.destroy(id, inst)
		end()
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

// lockMonitor takes the container's monitor lock, waiting a while for a
// monitor that is finishing when wait, failing after a moment otherwise.
// unlock releases it when the monitor is done; a killed keeper releases it
// too.
func lockMonitor(dir string, wait bool) (unlock func(), err error) {
	f, err := os.OpenFile(filepath.Join(dir, "monitor.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	// Without wait, a moment's patience still: Inspect tests the lock
	// for an instant (monitorLocked).
	deadline := time.Now().Add(10 * time.Second)
	if !wait {
		deadline = time.Now().Add(200 * time.Millisecond)
	}
	for {
		locked, err := statefile.TryLock(f)
		if locked {
			return func() { f.Close() }, nil
		}
		if err != nil || time.Now().After(deadline) {
			f.Close()
			if err == nil {
				return nil, errors.New("another monitor of the container is running")
			}
			return nil, fmt.Errorf("locking the monitor: %w", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// monitorLocked says whether a monitor holds the container's monitor
// lock. It tests the lock for an instant (reading the kernel's table of
// locks instead costs a millisecond or more on a busy host); a monitor
// starting at that instant retries.
func monitorLocked(dir string) bool {
	held, err := statefile.Held(filepath.Join(dir, "monitor.lock"))
	return held || err != nil
}

// monitorDone waits up to d for the container's monitor, if any, to be
// done with it, and reports whether it is.
func monitorDone(dir string, d time.Duration) bool {
	f, err := os.OpenFile(filepath.Join(dir, "monitor.lock"), os.O_RDWR, 0)
	if err != nil {
		return true // no monitor ever ran
	}
	defer f.Close()
	deadline := time.Now().Add(d)
	for {
		if locked, err := statefile.TryLock(f); locked || err != nil {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

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
