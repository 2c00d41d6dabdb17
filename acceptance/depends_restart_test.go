package acceptance

import (
	"strings"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/busybox"
)

// `depends_on: {db: {restart: true}}`: restarting db restarts app too, and
// an up that recreates db restarts app (the same container) rather than
// recreating it, as docker compose does. Before, `restart db` left app
// alone and up recreated app.
func TestDependsOnRestartRestartsDependents(t *testing.T) {
	e := newEnv(t)
	e.importBusybox("rbox", busybox.Options{})
	file := `services:
  db:
    image: rbox
    command: [sleep, "3600"]
    environment: {GEN: "%s"}
  app:
    image: rbox
    command: [sh, -c, 'echo started; exec sleep 3600']
    depends_on:
      db: {condition: service_started, restart: true}
`
	e.writeFile("compose.yaml", strings.Replace(file, "%s", "1", 1))
	e.must("up", "-d")
	starts := func(want int) {
		t.Helper()
		e.eventually(20*time.Second, "app's start lines", func() bool {
			return strings.Count(e.must("logs", "app"), "started") == want
		})
	}
	starts(1)
	before := e.byService(e.ps())

	e.must("restart", "db")
	starts(2)
	e.must("restart", "--no-deps", "db")
	e.writeFile("compose.yaml", strings.Replace(file, "%s", "2", 1))
	e.must("up", "-d")
	starts(3)

	after := e.byService(e.ps())
	if after["db"].ID == before["db"].ID {
		t.Error("db was not recreated by a changed environment")
	}
	if after["app"].ID != before["app"].ID {
		t.Error("app was recreated; compose restarts it")
	}
	if after["app"].State != "running" {
		t.Errorf("app is %s after its restart", after["app"].State)
	}
}
