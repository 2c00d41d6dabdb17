package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"time"
)

// A detached container is watched by a monitor: a small process of its own
// (the berth binary, re-executed as MonitorCommand and detached from the
// CLI by a double fork, like conmon). The monitor starts the container,
// writes its output to the log file, records its exit, applies the restart
// policy and runs health probes. It needs no daemon and outlives the CLI;
// if it is killed, the container runs on and Inspect says so.

// monitorSettle is how long after starting its container a monitor
// returns the memory that starting took.
const monitorSettle = 3 * time.Second

// Start starts a created or stopped container under a new monitor and
// returns once its process runs (or has failed to start). Starting a
// running container does nothing.
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

	rd, wr, err := os.Pipe()
	if err != nil {
		return err
	}
	defer rd.Close()
	logf, err := os.OpenFile(filepath.Join(r.dir(id), "monitor.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		wr.Close()
		return err
	}
	defer logf.Close()
	cmd := exec.Command(r.exe, MonitorCommand, "--root", r.root, "--state", r.state, id)
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
		return fmt.Errorf("starting the monitor of %s: %w", info.Name, err)
	}
	wr.Close()
	writeMonitorPid(r.dir(id), cmd.Process.Pid)
	go cmd.Wait()
	msg, _ := io.ReadAll(rd)
	switch s := strings.TrimSpace(string(msg)); {
	case s == "ok":
		return nil
	case s == "":
		return fmt.Errorf("the monitor of %s exited before starting it; see %s", info.Name, logf.Name())
	default:
		return errors.New(strings.TrimPrefix(s, "error: "))
	}
}

// RunMonitor is the body of the hidden monitor command: it runs the
// container until it is done for good. ready is the pipe on which the
// starter waits for "ok" or "error: ...".
func RunMonitor(root, state, id string, ready *os.File) error {
	r, err := Open(root, state, WithExecutable("/proc/self/exe"))
	if err != nil {
		fmt.Fprintf(ready, "error: %v\n", err)
		return err
	}
	// The starter records this process too, but may have been killed
	// before it could.
	writeMonitorPid(r.dir(id), os.Getpid())
	return r.monitor(id, ready)
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
	writeJSON(filepath.Join(dir, monitorPidFile), monitorPid{pid, procStart(pid)})
}

func readMonitorPid(dir string) (int, uint64) {
	var m monitorPid
	readJSON(filepath.Join(dir, monitorPidFile), &m)
	return m.Pid, m.Start
}

func (r *Runtime) monitor(id string, ready *os.File) error {
	// A monitor has no terminal and must not die with one.
	for _, sig := range []os.Signal{syscall.SIGHUP, syscall.SIGINT, syscall.SIGPIPE} {
		signalIgnore(sig)
	}
	dir := r.dir(id)
	var s Spec
	if err := readJSON(filepath.Join(dir, "spec.json"), &s); err != nil {
		fmt.Fprintf(ready, "error: %v\n", err)
		return err
	}
	logw, err := newLogWriter(filepath.Join(dir, "container.log"), s.LogMaxSize, s.LogMaxFiles)
	if err != nil {
		fmt.Fprintf(ready, "error: %v\n", err)
		return err
	}
	defer logw.Close()

	if s.Resolver != nil && s.Network == NetworkPath {
		// The name server lives as long as the monitor, across restarts.
		if err := startResolver(context.Background(), s.NetNS, s.Resolver); err != nil {
			fmt.Fprintf(os.Stderr, "container %s: %v\n", s.Name, err)
		}
	}
	var rec record
	readJSON(filepath.Join(dir, "status.json"), &rec)
	rec.MonitorPid, rec.MonitorStart = os.Getpid(), procStart(os.Getpid())
	backoff := 100 * time.Millisecond
	first := true
	for {
		inst, outs, err := r.startLogged(id, &s, logw)
		if err != nil {
			rec.Status, rec.ExitCode, rec.Error, rec.Pid = StatusExited, 127, err.Error(), 0
			rec.FinishedAt = time.Now()
			writeJSON(filepath.Join(dir, "status.json"), &rec)
			r.dieEvent(id, &s, rec.ExitCode, time.Time{})
			if first {
				fmt.Fprintf(ready, "error: %v\n", err)
				ready.Close()
			}
			return err
		}
		pid, _ := inst.p.Pid()
		rec.Status, rec.Pid, rec.PidStart, rec.Error = StatusRunning, pid, procStart(pid), ""
		rec.StartedAt, rec.FinishedAt, rec.ExitCode = time.Now(), time.Time{}, 0
		if s.Healthcheck != nil && len(s.Healthcheck.Test) > 0 && s.Healthcheck.Test[0] != "NONE" {
			rec.Health, rec.FailingCount = HealthStarting, 0
		}
		writeJSON(filepath.Join(dir, "status.json"), &rec)
		r.event("start", id, &s)
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
		started := time.Now()
		code := inst.wait()
		stopHealth()
		<-hdone
		outs.Wait()
		r.destroy(id, inst)

		rec.Status, rec.ExitCode, rec.Pid, rec.FinishedAt = StatusExited, code, 0, time.Now()
		writeJSON(filepath.Join(dir, "status.json"), &rec)
		r.dieEvent(id, &s, code, started)
		if !r.shouldRestart(id, &s, code, rec.RestartCount) {
			return nil
		}
		// Backoff doubles while the container keeps failing fast, and
		// resets once a run lasted a while, as Docker's does.
		if time.Since(started) > 10*time.Second {
			backoff = 100 * time.Millisecond
		}
		rec.Status = StatusRestarting
		writeJSON(filepath.Join(dir, "status.json"), &rec)
		deadline := time.Now().Add(backoff)
		for time.Now().Before(deadline) {
			if r.stopRequested(id) {
				rec.Status = StatusExited
				writeJSON(filepath.Join(dir, "status.json"), &rec)
				return nil
			}
			time.Sleep(50 * time.Millisecond)
		}
		backoff = min(backoff*2, time.Minute)
		rec.RestartCount++
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
