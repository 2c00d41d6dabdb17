package acceptance

import (
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/busybox"
)

// An attached up with --abort-on-container-exit learns of exits from the
// runtime's events and stops on a container that stopped for good, never
// on one its restart policy restarts: here flaky fails and restarts all
// along, and only tests' exit ends the up, with tests' code. The output of
// flaky's every run is shown: its monitor records Restarting before the
// die event, where it used to record Exited first, and the follower of
// its log took that for the end.
func TestAbortOnExitIgnoresRestartingContainer(t *testing.T) {
	e := newEnv(t)
	e.importBusybox("abox", busybox.Options{})
	e.writeFile("compose.yaml", `services:
  flaky:
    image: abox
    command: [sh, -c, 'echo flaky starts; sleep 0.1; exit 1']
    restart: on-failure
  tests:
    image: abox
    command: [sh, -c, 'sleep 1.5; echo tests done; exit 5']
`)
	r := e.berth("up", "--abort-on-container-exit", "--exit-code-from", "tests", "-t", "1")
	if r.Code != 5 {
		t.Fatalf("exit %d, want tests' 5\n%s\n%s", r.Code, r.Stdout, r.Stderr)
	}
	if strings.Count(r.Stdout, "flaky starts") < 2 {
		t.Errorf("flaky did not restart while attached:\n%s", r.Stdout)
	}
	if !strings.Contains(r.Stdout, "tests done") || !strings.Contains(r.Stderr, e.Project+"-tests-1 exited with code 5") {
		t.Errorf("the up did not abort on tests' exit:\n%s\n%s", r.Stdout, r.Stderr)
	}
	e.must("down", "-t", "0")
}

// Without --abort-on-container-exit an attached up goes on while one of
// its containers runs, and returns 0 once none does.
func TestAttachedUpEndsWhenNoneRuns(t *testing.T) {
	e := newEnv(t)
	e.importBusybox("abox", busybox.Options{})
	e.writeFile("compose.yaml", `services:
  once:
    image: abox
    command: [sh, -c, 'echo once ran']
  long:
    image: abox
    command: [sh, -c, 'echo long runs; exec sleep 3600']
`)
	up := e.start("up", "-t", "0")
	up.waitOutput("once ran", 1, 30*time.Second)
	up.waitOutput("long runs", 1, 30*time.Second)
	e.eventually(20*time.Second, "once exited", func() bool { return e.byService(e.ps())["once"].State == "exited" })
	select {
	case err := <-up.done:
		up.done <- err
		t.Fatalf("the attached up ended (%v) when once exited, with long running:\n%s", err, up.out.String())
	default:
	}
	e.must("stop", "-t", "0", "long")
	select {
	case err := <-up.done:
		up.done <- err
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatal(err)
		}
		if err != nil {
			t.Errorf("attached up exited %d once none of its containers ran, want 0:\n%s", ee.ExitCode(), up.out.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("attached up still running 30s after its last container stopped:\n%s", up.out.String())
	}
	e.must("down", "-t", "0")
}
