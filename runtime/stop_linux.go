package runtime

import (
	"context"
	"errors"
	"fmt"
	"github.com/berthdev/berth/internal/timing"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/moby/sys/mountinfo"
	"github.com/opencontainers/runc/libcontainer"
	"golang.org/x/sys/unix"

	"github.com/berthdev/berth/internal/failpoint"
	"github.com/berthdev/berth/internal/statefile"
)

const defaultStopTimeout = 10 * time.Second

// Stop stops a container: its stop signal, then SIGKILL after timeout (the
// Spec's StopTimeout when timeout is 0; use a negative timeout to kill at
// once). A PID 1 that has no handler for the stop signal cannot receive it,
// so it is killed at once instead of waiting out the grace period. The
// restart policy does not start a stopped container again.
func (r *Runtime) Stop(ctx context.Context, ref string, timeout time.Duration) error {
	end := timing.Span("stop: inspect, load")
	info, err := r.Inspect(ctx, ref)
	if err != nil {
		return err
	}
	id := info.ID
	if err := r.requestStop(id); err != nil {
		return err
	}
	switch info.Status {
	case StatusRunning, StatusPaused:
	case StatusRestarting:
		return r.waitRecorded(ctx, id, 5*time.Second)
	default:
		return nil
	}
	if timeout == 0 {
		timeout = info.Spec.StopTimeout
		if timeout == 0 {
			timeout = defaultStopTimeout
		}
	}
	sig, err := signalByName(info.Spec.StopSignal)
	if err != nil {
		return err
	}
	c, err := libcontainer.Load(r.lcRoot(), id)
	if err != nil {
		return r.waitRecorded(ctx, id, 5*time.Second)
	}
	if timeout < 0 || (info.Spec.PIDNS == "" && !catches(info.Pid, sig)) {
		sig = unix.SIGKILL
	}
	end()
	end = timing.Span("stop: signal")
	// Each kill is recorded before the signal goes, so that it comes
	// before the die the monitor records, as with Docker.
	r.killEvent(info, sig)
	if err := c.Signal(sig); err != nil && !errors.Is(err, libcontainer.ErrNotRunning) {
		return fmt.Errorf("signalling %s: %w", info.Name, err)
	}
	if info.Status == StatusPaused {
		c.Resume()
	}
	if sig != unix.SIGKILL && !waitExit(ctx, info.Pid, timeout) {
		r.killEvent(info, unix.SIGKILL)
		if err := c.Signal(unix.SIGKILL); err != nil && !errors.Is(err, libcontainer.ErrNotRunning) {
			return fmt.Errorf("killing %s: %w", info.Name, err)
		}
	}
	end()
	end = timing.Span("stop: exit")
	waitExit(ctx, info.Pid, 10*time.Second)
	end()
	end = timing.Span("stop: recorded")
	if err := r.waitRecorded(ctx, id, 5*time.Second); err != nil {
		return err
	}
	end()
	r.event("stop", id, &info.Spec)
	return nil
}

func (r *Runtime) killEvent(info Info, sig syscall.Signal) {
	r.event("kill", info.ID, &info.Spec, "signal", strconv.Itoa(int(sig)))
}

// Kill sends sig to the container's init. Like Docker, a container killed
// this way is not restarted by its policy.
func (r *Runtime) Kill(ctx context.Context, ref string, sig syscall.Signal) error {
	info, err := r.Inspect(ctx, ref)
	if err != nil {
		return err
	}
	if info.Status != StatusRunning && info.Status != StatusPaused {
		return fmt.Errorf("%w: %s", ErrNotRunning, info.Name)
	}
	if err := r.requestStop(info.ID); err != nil {
		return err
	}
	c, err := libcontainer.Load(r.lcRoot(), info.ID)
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrNotRunning, info.Name, err)
	}
	r.killEvent(info, sig)
	if err := c.Signal(sig); err != nil {
		return fmt.Errorf("signalling %s: %w", info.Name, err)
	}
	if sig == unix.SIGKILL {
		waitExit(ctx, info.Pid, 10*time.Second)
		return r.waitRecorded(ctx, info.ID, 5*time.Second)
	}
	return nil
}

func (r *Runtime) requestStop(id string) error {
	return os.WriteFile(filepath.Join(r.dir(id), "stop-requested"), nil, 0o600)
}

// waitRecorded waits until the container's exit is recorded by its
// monitor; with no monitor left, it cleans up and records the exit itself.
func (r *Runtime) waitRecorded(ctx context.Context, id string, max time.Duration) error {
	deadline := time.Now().Add(max)
	// The monitor records an exit within a millisecond or two of it: the
	// first looks come soon, later ones less often.
	pause := 2 * time.Millisecond
	for {
		info, err := r.Inspect(ctx, id)
		if err != nil {
			return err
		}
		switch info.Status {
		case StatusExited, StatusCreated, StatusDead:
			if !info.MonitorAlive {
				return r.destroy(id, nil)
			}
			return nil
		}
		if !info.MonitorAlive && !procAlive(info.Pid, 0) {
			// The monitor is gone: nobody else will record this.
			var rec record
			statefile.ReadJSON(filepath.Join(r.dir(id), "status.json"), &rec)
			rec.Status, rec.Pid, rec.FinishedAt = StatusExited, 0, time.Now()
			rec.ExitCode, rec.Error = -1, "the container's monitor was lost; its exit status is unknown"
			statefile.WriteJSON(filepath.Join(r.dir(id), "status.json"), &rec, statefile.Options{})
			r.dieEvent(id, &info.Spec, -1, time.Time{})
			return r.destroy(id, nil)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("container %s did not stop within %s", info.Name, max)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(pause):
		}
		pause = min(2*pause, 20*time.Millisecond)
	}
}

// catches reports whether pid has a handler installed for sig
// (SigCgt in /proc/PID/status). When unsure it says yes.
func catches(pid int, sig syscall.Signal) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return true
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "SigCgt:"); ok {
			var mask uint64
			if _, err := fmt.Sscanf(strings.TrimSpace(v), "%x", &mask); err != nil {
				return true
			}
			return mask&(1<<(uint(sig)-1)) != 0
		}
	}
	return true
}

// waitExit waits up to d for pid to exit, using a pidfd (the process is
// not our child). It reports whether it exited.
func waitExit(ctx context.Context, pid int, d time.Duration) bool {
	if pid <= 0 {
		return true
	}
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return !procAlive(pid, 0)
	}
	defer unix.Close(fd)
	deadline := time.Now().Add(d)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return !procAlive(pid, 0)
		}
		step := min(left, 100*time.Millisecond)
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, int(step.Milliseconds())+1)
		if n > 0 || (err == nil && !procAlive(pid, 0)) {
			return true
		}
		if ctx.Err() != nil {
			return false
		}
	}
}

// Remove deletes a container and everything of it but its volumes. A
// running container is refused unless force, which kills it first.
func (r *Runtime) Remove(ctx context.Context, ref string, force bool) error {
	defer timing.Span("runtime: remove")()
	info, err := r.Inspect(ctx, ref)
	if err != nil {
		return err
	}
	switch info.Status {
	case StatusRunning, StatusPaused, StatusRestarting:
		if !force {
			return fmt.Errorf("%w: %s (stop it first, or force)", ErrRunning, info.Name)
		}
		if err := r.Stop(ctx, info.ID, -1); err != nil {
			return err
		}
	}
	// A monitor may still be running: finishing up, or starting the
	// container for a caller that was killed. It is told to stop (no
	// restart), and what it starts meanwhile is destroyed, until it lets
	// go of the container's monitor lock. A keeper that watches this
	// container alone goes with it when it does not; one shared with
	// other containers is left to them.
	r.requestStop(info.ID)
	if err := r.destroy(info.ID, nil); err != nil {
		return fmt.Errorf("removing %s: %w", info.Name, err)
	}
	deadline := time.Now().Add(5 * time.Second)
	done := monitorDone(r.dir(info.ID), 500*time.Millisecond)
	for !done && time.Now().Before(deadline) {
		r.destroy(info.ID, nil)
		done = monitorDone(r.dir(info.ID), 500*time.Millisecond)
	}
	if !done && info.Spec.Keeper == "" {
		var rec record
		statefile.ReadJSON(filepath.Join(r.dir(info.ID), "status.json"), &rec)
		for _, pid := range r.monitorPids(info.ID, rec) {
			unix.Kill(pid, unix.SIGKILL)
			waitExit(ctx, pid, 2*time.Second)
		}
		r.destroy(info.ID, nil)
	}
	if err := removeCgroups(info.ID); err != nil {
		return fmt.Errorf("removing %s: %w", info.Name, err)
	}
	// Renamed with a mount below it, the directory could not be deleted,
	// and the mount would be left where nothing looks for it.
	if mounted, err := mountinfo.Mounted(r.rootfs(info.ID)); err == nil && mounted {
		return fmt.Errorf("removing %s: its root file system is still mounted at %s", info.Name, r.rootfs(info.ID))
	}
	dir := r.dir(info.ID)
	gone := dir + ".removing"
	if err := os.Rename(dir, gone); err != nil {
		return fmt.Errorf("removing %s: %w", info.Name, err)
	}
	failpoint.Kill("container-removing")
	if err := os.RemoveAll(gone); err != nil {
		return fmt.Errorf("removing %s: %w", info.Name, err)
	}
	r.event("destroy", info.ID, &info.Spec)
	return nil
}

// Pause freezes every process of a running container.
func (r *Runtime) Pause(ctx context.Context, ref string) error {
	return r.withRunning(ctx, ref, "pause", func(c *libcontainer.Container) error { return c.Pause() })
}

// Unpause thaws a paused container.
func (r *Runtime) Unpause(ctx context.Context, ref string) error {
	return r.withRunning(ctx, ref, "unpause", func(c *libcontainer.Container) error { return c.Resume() })
}

// withRunning calls fn on a running container, and records event (unless
// empty) when it succeeds.
func (r *Runtime) withRunning(ctx context.Context, ref, event string, fn func(*libcontainer.Container) error) error {
	info, err := r.Inspect(ctx, ref)
	if err != nil {
		return err
	}
	if info.Status != StatusRunning && info.Status != StatusPaused {
		return fmt.Errorf("%w: %s", ErrNotRunning, info.Name)
	}
	c, err := libcontainer.Load(r.lcRoot(), info.ID)
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrNotRunning, info.Name, err)
	}
	if err := fn(c); err != nil {
		return fmt.Errorf("%s: %w", info.Name, err)
	}
	if event != "" {
		r.event(event, info.ID, &info.Spec)
	}
	return nil
}

// Processes lists the host pids of a running container's processes.
func (r *Runtime) Processes(ctx context.Context, ref string) ([]int, error) {
	var pids []int
	err := r.withRunning(ctx, ref, "", func(c *libcontainer.Container) error {
		var err error
		pids, err = c.Processes()
		return err
	})
	return pids, err
}

// Wait blocks until the container is no longer running and returns its
// exit code.
func (r *Runtime) Wait(ctx context.Context, ref string) (int, error) {
	for {
		info, err := r.Inspect(ctx, ref)
		if err != nil {
			return -1, err
		}
		switch info.Status {
		case StatusExited, StatusDead, StatusCreated:
			return info.ExitCode, nil
		}
		if info.Pid > 0 {
			waitExit(ctx, info.Pid, time.Second)
		} else {
			select {
			case <-ctx.Done():
			case <-time.After(50 * time.Millisecond):
			}
		}
		if ctx.Err() != nil {
			return -1, ctx.Err()
		}
	}
}

// monitorPids finds the monitor processes of a container that are alive:
// the one status.json records and the one monitor.pid names (the latest
// started, which may not have recorded itself yet).
func (r *Runtime) monitorPids(id string, rec record) []int {
	var out []int
	pid, start := readMonitorPid(r.dir(id))
	for _, m := range []struct {
		pid   int
		start uint64
	}{{rec.MonitorPid, rec.MonitorStart}, {pid, start}} {
		if m.pid > 0 && m.pid != os.Getpid() && procAlive(m.pid, m.start) && !slices.Contains(out, m.pid) {
			out = append(out, m.pid)
		}
	}
	return out
}

// removeCgroups removes what is left of the container's cgroups: when the
// last process of a container is still exiting, libcontainer's removal can
// find the cgroup busy and give up, leaving empty directories behind. A
// process still in one belongs to the container being removed (one that a
// monitor was starting while its caller was killed, say) and is killed.
func removeCgroups(id string) error {
	var dirs []string
	for _, pattern := range []string{"/sys/fs/cgroup/*/berth/" + id, "/sys/fs/cgroup/berth/" + id} {
		m, _ := filepath.Glob(pattern)
		dirs = append(dirs, m...)
	}
	var left []string
	for _, d := range dirs {
		deadline := time.Now().Add(2 * time.Second)
		for {
			err := unix.Rmdir(d)
			if err == nil || errors.Is(err, unix.ENOENT) {
				break
			}
			if !errors.Is(err, unix.EBUSY) || time.Now().After(deadline) {
				left = append(left, d)
				break
			}
			killCgroup(d)
			time.Sleep(10 * time.Millisecond)
		}
	}
	if len(left) > 0 {
		return fmt.Errorf("cgroups still in use: %s", strings.Join(left, ", "))
	}
	return nil
}

// killCgroup kills every process of a container's cgroup directory d,
// thawing it first if it is frozen (a frozen process does not die).
func killCgroup(d string) {
	if os.WriteFile(filepath.Join(d, "cgroup.kill"), []byte("1"), 0) == nil {
		return // cgroup v2, Linux 5.14 and later: the kernel kills them all
	}
	os.WriteFile(filepath.Join(d, "freezer.state"), []byte("THAWED"), 0)
	os.WriteFile(filepath.Join(d, "cgroup.freeze"), []byte("0"), 0)
	procs, err := os.ReadFile(filepath.Join(d, "cgroup.procs"))
	if err != nil {
		return
	}
	for _, f := range strings.Fields(string(procs)) {
		if pid, err := strconv.Atoi(f); err == nil && pid > 0 {
			unix.Kill(pid, unix.SIGKILL)
		}
	}
}
