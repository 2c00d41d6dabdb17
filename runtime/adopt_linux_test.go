package runtime_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berthdev/berth/runtime"
)

// A container whose monitor was killed gets a new one from Adopt: its
// output reaches the log again and its exit code is recorded, though its
// init is no longer the monitor's child.
func TestAdoptAfterMonitorKilled(t *testing.T) {
	rt := newRuntime(t)
	ctx := context.Background()
	info := create(t, rt, busyboxSpec(t, "sh", "-c", "trap 'exit 7' TERM; i=0; while :; do i=$((i+1)); echo tick $i; sleep 0.05; done"))
	if _, err := rt.Adopt(ctx, info.ID); !errors.Is(err, runtime.ErrNotRunning) {
		t.Errorf("adopting a created container: %v", err)
	}
	if err := rt.Start(ctx, info.ID); err != nil {
		t.Fatal(err)
	}
	waitLog(t, rt, info.ID, "tick 2")
	got, _ := rt.Inspect(ctx, info.ID)
	if lost, err := rt.Adopt(ctx, info.ID); err != nil || lost != nil {
		t.Errorf("adopting a container with a live monitor: %v %v", lost, err)
	}
	old := monitorPid(t, got)
	if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for got.MonitorAlive && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
		got, _ = rt.Inspect(ctx, info.ID)
	}
	if got.MonitorAlive || got.Status != runtime.StatusRunning {
		t.Fatalf("after the monitor was killed: %s, monitor alive %v", got.Status, got.MonitorAlive)
	}
	last := lastTick(rt, info.ID)

	lost, err := rt.Adopt(ctx, info.ID)
	if err != nil || len(lost) > 0 {
		t.Fatalf("adopt: %v, lost %v", err, lost)
	}
	got, _ = rt.Inspect(ctx, info.ID)
	if !got.MonitorAlive || got.Status != runtime.StatusRunning || monitorPid(t, got) == old {
		t.Fatalf("after adopt: %s, monitor alive %v", got.Status, got.MonitorAlive)
	}
	waitLog(t, rt, info.ID, "tick "+strconv.Itoa(last+3))
	if err := rt.Stop(ctx, info.ID, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	got, _ = rt.Inspect(ctx, info.ID)
	if got.Status != runtime.StatusExited || got.ExitCode != 7 {
		t.Errorf("after stop: %s %d (%s)", got.Status, got.ExitCode, got.Error)
	}
}

func lastTick(rt *runtime.Runtime, id string) int {
	n := 0
	rt.Logs(context.Background(), id, runtime.LogOptions{Tail: -1}, func(l runtime.LogLine) error {
		if v, err := strconv.Atoi(strings.TrimPrefix(l.Text, "tick ")); err == nil && v > n {
			n = v
		}
		return nil
	})
	return n
}
