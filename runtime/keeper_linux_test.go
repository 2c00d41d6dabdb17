package runtime_test

import (
	"context"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/berthdev/berth/runtime"
)

// TestKeeperSharedByGroup pins what one keeper for a group of containers
// keeps of the guarantees of one monitor per container: the group's
// containers share one process; killing it loses no more than a monitor
// did (each runs on, reported without its monitor, until Adopt gives it a
// new keeper that takes back its output and exit code); a container of
// the group stopped alone leaves the others watched; and the keeper
// leaves once it watches nothing.
func TestKeeperSharedByGroup(t *testing.T) {
	rt := newRuntime(t)
	ctx := context.Background()
	var infos []runtime.Info
	for i := 0; i < 3; i++ {
		s := busyboxSpec(t, "sh", "-c", "trap 'exit 7' TERM; i=0; while :; do i=$((i+1)); echo tick $i; sleep 0.05; done")
		s.Keeper = "group-a"
		infos = append(infos, create(t, rt, s))
		if err := rt.Start(ctx, infos[i].ID); err != nil {
			t.Fatal(err)
		}
	}
	keeper := 0
	for i, info := range infos {
		waitLog(t, rt, info.ID, "tick 2")
		got, _ := rt.Inspect(ctx, info.ID)
		infos[i] = got
		if pid := monitorPid(t, got); keeper == 0 {
			keeper = pid
		} else if pid != keeper {
			t.Fatalf("containers of one group have keepers %d and %d", keeper, pid)
		}
	}
	// One stopped alone: the others stay watched.
	if err := rt.Stop(ctx, infos[2].ID, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if got, _ := rt.Inspect(ctx, infos[2].ID); got.Status != runtime.StatusExited || got.ExitCode != 7 {
		t.Errorf("stopped alone: %s %d", got.Status, got.ExitCode)
	}
	if err := rt.Remove(ctx, infos[2].ID, true); err != nil {
		t.Fatal(err)
	}
	for _, info := range infos[:2] {
		if got, _ := rt.Inspect(ctx, info.ID); got.Status != runtime.StatusRunning || !got.MonitorAlive {
			t.Fatalf("after a sibling was removed: %s, monitor alive %v", got.Status, got.MonitorAlive)
		}
	}

	if err := syscall.Kill(keeper, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for _, info := range infos[:2] {
		deadline := time.Now().Add(10 * time.Second)
		got, _ := rt.Inspect(ctx, info.ID)
		for got.MonitorAlive && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
			got, _ = rt.Inspect(ctx, info.ID)
		}
		if got.MonitorAlive || got.Status != runtime.StatusRunning {
			t.Fatalf("after the keeper was killed: %s, monitor alive %v", got.Status, got.MonitorAlive)
		}
	}
	newKeeper := 0
	for _, info := range infos[:2] {
		last := lastTick(rt, info.ID)
		if lost, err := rt.Adopt(ctx, info.ID); err != nil || len(lost) > 0 {
			t.Fatalf("adopt: %v, lost %v", err, lost)
		}
		got, _ := rt.Inspect(ctx, info.ID)
		pid := monitorPid(t, got)
		if pid == keeper || (newKeeper != 0 && pid != newKeeper) {
			t.Errorf("adopted by %d (old keeper %d, new %d)", pid, keeper, newKeeper)
		}
		newKeeper = pid
		waitLog(t, rt, info.ID, "tick "+strconv.Itoa(last+3))
	}
	for _, info := range infos[:2] {
		if err := rt.Stop(ctx, info.ID, 5*time.Second); err != nil {
			t.Fatal(err)
		}
		if got, _ := rt.Inspect(ctx, info.ID); got.Status != runtime.StatusExited || got.ExitCode != 7 {
			t.Errorf("after stop: %s %d (%s)", got.Status, got.ExitCode, got.Error)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for syscall.Kill(newKeeper, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatal("the keeper is still running with nothing to watch")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestPausedReadFromTheFreezer pins Inspect's reading of a paused
// container's state straight from its freezer cgroup (not through
// libcontainer, which costs every command some milliseconds).
func TestPausedReadFromTheFreezer(t *testing.T) {
	rt := newRuntime(t)
	ctx := context.Background()
	info := create(t, rt, busyboxSpec(t, "sleep", "1000"))
	if err := rt.Start(ctx, info.ID); err != nil {
		t.Fatal(err)
	}
	if err := rt.Pause(ctx, info.ID); err != nil {
		t.Fatal(err)
	}
	if got, _ := rt.Inspect(ctx, info.ID); got.Status != runtime.StatusPaused {
		t.Errorf("paused container inspected as %s", got.Status)
	}
	if err := rt.Unpause(ctx, info.ID); err != nil {
		t.Fatal(err)
	}
	if got, _ := rt.Inspect(ctx, info.ID); got.Status != runtime.StatusRunning {
		t.Errorf("unpaused container inspected as %s", got.Status)
	}
}

// TestKeeperStartsOnceForAStack pins that the containers of a group
// started all at once, as up starts a level of a stack, get one keeper,
// which still answers afterwards: a starter that finds the keeper busy
// waits for it instead of starting another, and a keeper never takes over
// or removes another's socket.
func TestKeeperStartsOnceForAStack(t *testing.T) {
	rt := newRuntime(t)
	ctx := context.Background()
	const n = 12
	var infos []runtime.Info
	for i := 0; i < n; i++ {
		s := busyboxSpec(t, "sleep", "1000")
		s.Keeper = "stack"
		infos = append(infos, create(t, rt, s))
	}
	errs := make(chan error, n)
	for _, info := range infos {
		go func() { errs <- rt.Start(ctx, info.ID) }()
	}
	for range infos {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	keepers := map[int]bool{}
	for _, info := range infos {
		got, _ := rt.Inspect(ctx, info.ID)
		if got.Status != runtime.StatusRunning || !got.MonitorAlive {
			t.Errorf("%s: %s, monitor alive %v", got.Name, got.Status, got.MonitorAlive)
		}
		keepers[monitorPid(t, got)] = true
	}
	if len(keepers) != 1 {
		t.Errorf("%d containers started at once have %d keepers", n, len(keepers))
	}
	// The keeper answers still: a container started now joins it.
	s := busyboxSpec(t, "sleep", "1000")
	s.Keeper = "stack"
	late := create(t, rt, s)
	if err := rt.Start(ctx, late.ID); err != nil {
		t.Fatal(err)
	}
	got, _ := rt.Inspect(ctx, late.ID)
	if !keepers[monitorPid(t, got)] {
		t.Errorf("a container started later has keeper %d, not the group's", monitorPid(t, got))
	}
}
