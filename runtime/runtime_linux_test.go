package runtime_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berthdev/berth/runtime"
)

func newID(t *testing.T) string {
	t.Helper()
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// newRuntime opens a runtime on fresh temp dirs and, at the end of the
// test, removes every container and checks nothing is left behind: no
// mount under the root, no cgroup, no process of its containers.
func newRuntime(t *testing.T) *runtime.Runtime {
	t.Helper()
	requireRoot(t)
	root, state := t.TempDir(), t.TempDir()
	rt, err := runtime.Open(root, state)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		infos, _ := rt.List(ctx)
		for _, i := range infos {
			if err := rt.Remove(ctx, i.ID, true); err != nil {
				t.Errorf("removing %s: %v", i.Name, err)
			}
		}
		checkNothingLeft(t, root, infos)
	})
	return rt
}

func checkNothingLeft(t *testing.T, root string, infos []runtime.Info) {
	t.Helper()
	mounts, _ := os.ReadFile("/proc/self/mountinfo")
	for _, l := range strings.Split(string(mounts), "\n") {
		if strings.Contains(l, root) {
			t.Errorf("mount left under %s: %s", root, l)
		}
	}
	for _, i := range infos {
		for _, base := range []string{"/sys/fs/cgroup/memory/berth", "/sys/fs/cgroup/pids/berth", "/sys/fs/cgroup/berth", "/sys/fs/cgroup/unified/berth"} {
			if _, err := os.Stat(filepath.Join(base, i.ID)); err == nil {
				t.Errorf("cgroup %s/%s left", base, i.ID)
			}
		}
		if _, err := os.Stat(i.Dir); err == nil {
			t.Errorf("container dir %s left", i.Dir)
		}
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, _ := os.ReadFile(p)
		if bytes.Contains(b, []byte(root)) {
			t.Errorf("process %s still refers to %s: %q", p, root, b)
		}
	}
}

func busyboxSpec(t *testing.T, args ...string) runtime.Spec {
	t.Helper()
	id := newID(t)
	return runtime.Spec{
		ID:     id,
		Name:   "t-" + id[:8],
		Layers: []string{layerDir},
		Args:   args,
		Env:    []string{"PATH=/bin:/sbin"},
	}
}

func create(t *testing.T, rt *runtime.Runtime, s runtime.Spec) runtime.Info {
	t.Helper()
	info, err := rt.Create(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	return info
}

func TestRunForegroundExitCodes(t *testing.T) {
	rt := newRuntime(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		args []string
		out  string
		code int
	}{
		{"echo", []string{"echo", "hello"}, "hello\n", 0},
		{"exit3", []string{"sh", "-c", "echo out; exit 3"}, "out\n", 3},
		{"child signalled", []string{"sh", "-c", "sh -c 'kill -9 $$'; exit $?"}, "", 137},
	} {
		t.Run(tc.name, func(t *testing.T) {
			info := create(t, rt, busyboxSpec(t, tc.args...))
			var out bytes.Buffer
			code, err := rt.Run(ctx, info.ID, runtime.Stdio{Out: &out})
			if err != nil {
				t.Fatal(err)
			}
			if code != tc.code || out.String() != tc.out {
				t.Errorf("got code %d output %q, want %d %q", code, out.String(), tc.code, tc.out)
			}
			got, _ := rt.Inspect(ctx, info.ID)
			if got.Status != runtime.StatusExited || got.ExitCode != tc.code {
				t.Errorf("inspect: %s %d", got.Status, got.ExitCode)
			}
		})
	}
}

func TestRunStdinAndEnvironment(t *testing.T) {
	rt := newRuntime(t)
	s := busyboxSpec(t, "sh", "-c", "cat; echo $GREETING; id -u; hostname; pwd")
	s.Env = append(s.Env, "GREETING=hi")
	s.User = "app"
	s.Cwd = "/tmp"
	s.Hostname = "box"
	info := create(t, rt, s)
	var out bytes.Buffer
	code, err := rt.Run(context.Background(), info.ID, runtime.Stdio{In: strings.NewReader("from stdin\n"), Out: &out})
	if err != nil || code != 0 {
		t.Fatal(code, err)
	}
	if want := "from stdin\nhi\n1000\nbox\n/tmp\n"; out.String() != want {
		t.Errorf("got %q want %q", out.String(), want)
	}
}

func TestDetachedStopAndLogs(t *testing.T) {
	rt := newRuntime(t)
	ctx := context.Background()
	info := create(t, rt, busyboxSpec(t, "sh", "-c", "echo started; echo oops >&2; exec sleep 1000"))
	if err := rt.Start(ctx, info.ID); err != nil {
		t.Fatal(err)
	}
	got, _ := rt.Inspect(ctx, info.ID)
	if got.Status != runtime.StatusRunning || !got.MonitorAlive || got.Pid == 0 {
		t.Fatalf("after start: %+v", got)
	}
	waitLog(t, rt, info.ID, "oops")
	// sleep as PID 1 has no SIGTERM handler: stop must not wait 10s.
	start := time.Now()
	if err := rt.Stop(ctx, info.ID, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("stop of a PID 1 without handler took %s", d)
	}
	got, _ = rt.Inspect(ctx, info.ID)
	if got.Status != runtime.StatusExited || got.ExitCode != 137 {
		t.Errorf("after stop: %s %d", got.Status, got.ExitCode)
	}
	var lines []runtime.LogLine
	rt.Logs(ctx, info.ID, runtime.LogOptions{Tail: -1}, func(l runtime.LogLine) error { lines = append(lines, l); return nil })
	// The two streams are separate pipes: their relative order is not
	// defined, each line's stream is.
	streams := map[string]string{}
	for _, l := range lines {
		streams[l.Text] = l.Stream
	}
	if len(lines) != 2 || streams["started"] != "stdout" || streams["oops"] != "stderr" {
		t.Errorf("logs: %+v", lines)
	}
}

func TestStopHonoursHandler(t *testing.T) {
	rt := newRuntime(t)
	ctx := context.Background()
	info := create(t, rt, busyboxSpec(t, "sh", "-c", "trap 'echo bye; exit 0' TERM; echo ready; while true; do sleep 0.1; done"))
	if err := rt.Start(ctx, info.ID); err != nil {
		t.Fatal(err)
	}
	waitLog(t, rt, info.ID, "ready")
	if err := rt.Stop(ctx, info.ID, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	got, _ := rt.Inspect(ctx, info.ID)
	if got.ExitCode != 0 {
		t.Errorf("exit code %d, want 0 from the trap", got.ExitCode)
	}
	waitLog(t, rt, info.ID, "bye")
}

func TestRestartOnFailure(t *testing.T) {
	rt := newRuntime(t)
	ctx := context.Background()
	s := busyboxSpec(t, "sh", "-c", "echo run; exit 2")
	s.Restart = runtime.RestartPolicy{Name: "on-failure", MaxRetries: 2}
	info := create(t, rt, s)
	if err := rt.Start(ctx, info.ID); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		got, _ := rt.Inspect(ctx, info.ID)
		if got.Status == runtime.StatusExited && !got.MonitorAlive {
			if got.RestartCount != 2 || got.ExitCode != 2 {
				t.Errorf("restarts %d exit %d", got.RestartCount, got.ExitCode)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still %s after 20s", got.Status)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestDieEventAfterRestartDecision: at a container's die event its state
// already says whether it restarts. An attached up reads the state at each
// die; when the monitor recorded Exited first and Restarting only after,
// an up with --abort-on-container-exit took a restarting container for
// one that had stopped for good.
func TestDieEventAfterRestartDecision(t *testing.T) {
	rt := newRuntime(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := busyboxSpec(t, "sh", "-c", "exit 3")
	s.Restart = runtime.RestartPolicy{Name: "on-failure", MaxRetries: 1}
	info := create(t, rt, s)
	ready := make(chan struct{})
	var states []runtime.Status
	done := make(chan error, 1)
	go func() {
		done <- rt.FollowEvents(ctx, runtime.FollowOptions{Ready: func() { close(ready) }}, func(ev runtime.Event) error {
			if ev.ID != info.ID || ev.Action != "die" {
				return nil
			}
			got, err := rt.Inspect(ctx, info.ID)
			if err != nil {
				return err
			}
			states = append(states, got.Status)
			if len(states) == 2 {
				cancel()
			}
			return nil
		})
	}()
	<-ready
	if err := rt.Start(ctx, info.ID); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("die events seen with states %v, want two within 20s", states)
	}
	want := []runtime.Status{runtime.StatusRestarting, runtime.StatusExited}
	if len(states) != 2 || states[0] != want[0] || states[1] != want[1] {
		t.Errorf("states at the die events: %v, want %v", states, want)
	}
}

func TestExecAndHealth(t *testing.T) {
	rt := newRuntime(t)
	ctx := context.Background()
	s := busyboxSpec(t, "sleep", "1000")
	s.Healthcheck = &runtime.Healthcheck{Test: []string{"CMD-SHELL", "test -f /tmp/ok"}, Interval: 100 * time.Millisecond, Retries: 1}
	info := create(t, rt, s)
	if err := rt.Start(ctx, info.ID); err != nil {
		t.Fatal(err)
	}
	waitHealth(t, rt, info.ID, runtime.HealthUnhealthy)
	var out bytes.Buffer
	code, err := rt.Exec(ctx, info.ID, runtime.ExecSpec{Args: []string{"sh", "-c", "touch /tmp/ok; id -un; exit 5"}, User: "app"}, runtime.Stdio{Out: &out})
	if err != nil || code != 5 || out.String() != "app\n" {
		t.Fatalf("exec: code %d err %v out %q", code, err, out.String())
	}
	waitHealth(t, rt, info.ID, runtime.HealthHealthy)
}

func TestMonitorKilled(t *testing.T) {
	rt := newRuntime(t)
	ctx := context.Background()
	info := create(t, rt, busyboxSpec(t, "sleep", "1000"))
	if err := rt.Start(ctx, info.ID); err != nil {
		t.Fatal(err)
	}
	mon := monitorPid(t, info)
	syscall.Kill(mon, syscall.SIGKILL)
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, _ := rt.Inspect(ctx, info.ID)
		if !got.MonitorAlive {
			if got.Status != runtime.StatusRunning {
				t.Fatalf("container should run on without its monitor, is %s", got.Status)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("monitor still reported alive")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := rt.Stop(ctx, info.ID, time.Second); err != nil {
		t.Fatal(err)
	}
	got, _ := rt.Inspect(ctx, info.ID)
	if got.Status != runtime.StatusExited {
		t.Errorf("after stop: %s", got.Status)
	}
	// And it can start again under a new monitor.
	if err := rt.Start(ctx, info.ID); err != nil {
		t.Fatal(err)
	}
	if got, _ := rt.Inspect(ctx, info.ID); got.Status != runtime.StatusRunning || !got.MonitorAlive {
		t.Errorf("restart after lost monitor: %+v", got)
	}
}

func TestCreateRefusesBadSpecs(t *testing.T) {
	rt := newRuntime(t)
	ctx := context.Background()
	s := busyboxSpec(t, "true")
	s.CapAdd = []string{"NOT_A_CAP"}
	if _, err := rt.Create(ctx, s); err == nil || !strings.Contains(err.Error(), "NOT_A_CAP") {
		t.Errorf("bad capability: %v", err)
	}
	s = busyboxSpec(t, "true")
	s.Ulimits = []runtime.Ulimit{{Name: "nofile", Soft: 1 << 40, Hard: 1 << 40}}
	if _, err := rt.Create(ctx, s); !errors.Is(err, runtime.ErrLimit) {
		t.Errorf("ulimit above the hard limit: %v", err)
	}
	s = busyboxSpec(t, "true")
	create(t, rt, s)
	s2 := busyboxSpec(t, "true")
	s2.Name = s.Name
	if _, err := rt.Create(ctx, s2); !errors.Is(err, runtime.ErrExists) {
		t.Errorf("duplicate name: %v", err)
	}
}

func monitorPid(t *testing.T, info runtime.Info) int {
	t.Helper()
	var rec struct {
		MonitorPid int `json:"monitor_pid"`
	}
	b, err := os.ReadFile(filepath.Join(info.Dir, "status.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := jsonUnmarshal(b, &rec); err != nil || rec.MonitorPid == 0 {
		t.Fatalf("no monitor pid: %v", err)
	}
	return rec.MonitorPid
}

func waitLog(t *testing.T, rt *runtime.Runtime, id, text string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		found := false
		rt.Logs(context.Background(), id, runtime.LogOptions{Tail: -1}, func(l runtime.LogLine) error {
			found = found || strings.Contains(l.Text, text)
			return nil
		})
		if found {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("log line %q never appeared", text)
}

func waitHealth(t *testing.T, rt *runtime.Runtime, id, want string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		got, _ := rt.Inspect(context.Background(), id)
		if got.Health == want {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	got, _ := rt.Inspect(context.Background(), id)
	t.Fatalf("health %q, want %q (log %+v)", got.Health, want, got.HealthLog)
}
