package acceptance

import (
	"strings"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/busybox"
)

// A container starts with every signal at its default disposition, as under
// Docker. Containers started by up used to inherit their monitor's ignored
// SIGINT and SIGHUP (SigIgn 0x3), so a process could not catch
// `stop_signal: SIGINT` and was SIGKILLed at once (exit 137) instead of
// shutting down.
func TestContainersStartWithDefaultSignals(t *testing.T) {
	e := newEnv(t)
	e.importBusybox("gbox", busybox.Options{})
	e.writeFile("compose.yaml", `services:
  plain:
    image: gbox
    command: [sleep, "3600"]
  app:
    image: gbox
    stop_signal: SIGINT
    stop_grace_period: 30s
    command: [sh, -c, 'trap "echo shutting down; exit 0" INT; echo ready; while :; do sleep 0.1; done']
`)
	e.must("up", "-d")
	out := e.must("exec", "-T", "plain", "grep", "SigIgn", "/proc/1/status")
	if f := strings.Fields(out); len(f) != 2 || strings.Trim(f[1], "0") != "" {
		t.Errorf("PID 1 starts with ignored signals: %q", out)
	}
	e.eventually(20*time.Second, "app ready", func() bool { return strings.Contains(e.must("logs", "app"), "ready") })
	e.must("stop", "app")
	if !strings.Contains(e.must("logs", "app"), "shutting down") {
		t.Error("the app never received its stop signal SIGINT")
	}
	if rows := e.byService(e.ps()); rows["app"].ExitCode != 0 {
		t.Errorf("app exited %d, want 0 from its SIGINT handler", rows["app"].ExitCode)
	}
}
