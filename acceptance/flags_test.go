package acceptance

import (
	"testing"

	"github.com/berthdev/berth/internal/busybox"
)

// The flags that berth used to accept and ignore now do what docker
// compose's do, or are refused. Each has its test here.

const webAndDB = `services:
  web:
    image: fbox
    command: [sh, -c, 'echo web says hello; exec sleep 3600']
    depends_on: [db]
  db:
    image: fbox
    command: [sh, -c, 'echo db says hello; exec sleep 3600']
`

// up --always-recreate-deps recreates the dependencies of the services
// named, unchanged as they are; without it they are kept. It was accepted
// and ignored.
func TestUpAlwaysRecreateDeps(t *testing.T) {
	e := newEnv(t)
	e.importBusybox("fbox", busybox.Options{})
	e.writeFile("compose.yaml", webAndDB)
	e.must("up", "-d")
	first := e.byService(e.ps())

	e.must("up", "-d", "web")
	kept := e.byService(e.ps())
	if kept["db"].ID != first["db"].ID || kept["web"].ID != first["web"].ID {
		t.Fatalf("an unchanged up recreated containers: %+v then %+v", first, kept)
	}

	e.must("up", "-d", "--always-recreate-deps", "web")
	after := e.byService(e.ps())
	if after["db"].ID == first["db"].ID {
		t.Error("--always-recreate-deps kept web's dependency db")
	}
	if after["web"].ID != first["web"].ID {
		t.Error("--always-recreate-deps recreated web itself, which did not change")
	}
	if after["db"].State != "running" || after["web"].State != "running" {
		t.Errorf("after --always-recreate-deps: %+v", after)
	}
	if r := e.berth("up", "-d", "--always-recreate-deps", "--no-recreate", "web"); r.Code != 2 {
		t.Errorf("--always-recreate-deps with --no-recreate: exit %d, want 2: %s", r.Code, r.Stderr)
	}
	e.must("down", "-t", "0")
}

// kill signals the containers of the compose file's services only; with
// --remove-orphans, those of services no longer in it too, as docker
// compose's kill does. The flag was accepted and ignored, and kill
// signalled the orphans either way.
func TestKillRemoveOrphans(t *testing.T) {
	e := newEnv(t)
	e.importBusybox("fbox", busybox.Options{})
	e.writeFile("compose.yaml", webAndDB)
	e.must("up", "-d")
	// db leaves the file: its container is an orphan.
	e.writeFile("compose.yaml", "services:\n  web:\n    image: fbox\n    command: [sh, -c, 'echo web says hello; exec sleep 3600']\n")

	e.must("kill")
	rows := e.byService(e.ps())
	if rows["web"].State != "exited" {
		t.Errorf("kill left web %s", rows["web"].State)
	}
	if rows["db"].State != "running" {
		t.Fatalf("kill signalled the orphan db (%s) without --remove-orphans", rows["db"].State)
	}

	e.must("kill", "--remove-orphans")
	if rows := e.byService(e.ps()); rows["db"].State != "exited" {
		t.Errorf("kill --remove-orphans left the orphan db %s", rows["db"].State)
	}
	e.must("down", "--remove-orphans", "-t", "0")
}
