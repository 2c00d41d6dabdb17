package acceptance

import (
	"os"
	"path/filepath"
	"strings"
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

// up --no-attach SERVICE follows the output of every service but that one,
// as docker compose's. It was a switch that hid every service's output,
// and took the service's name for one to start.
func TestUpNoAttachService(t *testing.T) {
	e := newEnv(t)
	e.importBusybox("fbox", busybox.Options{})
	e.writeFile("compose.yaml", `services:
  talker:
    image: fbox
    command: [sh, -c, 'echo talker says hello; sleep 0.5; echo talker done']
  quiet:
    image: fbox
    command: [sh, -c, 'echo quiet says hello; sleep 0.5']
`)
	r := e.berth("up", "--no-attach", "quiet", "-t", "1")
	if r.Code != 0 {
		t.Fatalf("up --no-attach quiet: exit %d\n%s\n%s", r.Code, r.Stdout, r.Stderr)
	}
	if !strings.Contains(r.Stdout, "talker says hello") || !strings.Contains(r.Stdout, "talker done") {
		t.Errorf("talker's output is missing:\n%s", r.Stdout)
	}
	if strings.Contains(r.Stdout, "quiet says hello") {
		t.Errorf("quiet's output was shown despite --no-attach quiet:\n%s", r.Stdout)
	}
	if rows := e.byService(e.ps()); rows["quiet"].State != "exited" || rows["talker"].State != "exited" {
		t.Errorf("both services ran to their end: %+v", rows)
	}
	e.must("down", "-t", "0")
}

// up --no-start creates the containers and returns, attached or not, as
// docker compose's: it used to follow containers that were never started
// until Ctrl-C.
func TestUpNoStartReturns(t *testing.T) {
	e := newEnv(t)
	e.importBusybox("fbox", busybox.Options{})
	e.writeFile("compose.yaml", webAndDB)
	e.must("up", "--no-start")
	for _, row := range e.ps() {
		if row.State != "created" {
			t.Errorf("%s is %s after up --no-start", row.Name, row.State)
		}
	}
	e.must("down", "-t", "0")
}

// --log-level above warn hides berth's warnings; an unknown level is
// refused. It was accepted and ignored.
func TestLogLevel(t *testing.T) {
	e := newEnv(t)
	e.importBusybox("fbox", busybox.Options{})
	e.writeFile("compose.yaml", `services:
  a:
    image: fbox
    command: [sleep, "3600"]
    deploy:
      update_config: {parallelism: 1}
`)
	if r := e.berth("config", "-q"); r.Code != 0 {
		t.Fatalf("config: %s", r.Stderr)
	}
	warned := e.berth("--log-level", "warn", "create")
	if warned.Code != 0 || !strings.Contains(warned.Stderr, "update_config") {
		t.Fatalf("--log-level warn: exit %d, no warning in %q", warned.Code, warned.Stderr)
	}
	quiet := e.berth("--log-level", "error", "create")
	if quiet.Code != 0 || strings.Contains(quiet.Stderr, "update_config") {
		t.Errorf("--log-level error: exit %d, warned anyway: %q", quiet.Code, quiet.Stderr)
	}
	if r := e.berth("--log-level", "chatty", "ps"); r.Code != 2 {
		t.Errorf("--log-level chatty: exit %d, want 2: %s", r.Code, r.Stderr)
	}
	e.must("down", "-t", "0")
}

// Flag values and combinations berth cannot honour are refused as usage
// errors (exit 2) before anything is created, instead of being read as
// something else or dropped.
func TestFlagsRefused(t *testing.T) {
	e := newEnv(t)
	e.importBusybox("fbox", busybox.Options{})
	e.writeFile("compose.yaml", webAndDB)
	e.writeFile("ctx/Dockerfile", "FROM fbox\n")
	for _, args := range [][]string{
		{"up", "-d", "--pull", "sometimes"},
		{"up", "-d", "--force-recreate", "--no-recreate"},
		{"up", "-d", "-V", "--no-recreate"},
		{"up", "-d", "--no-attach", "db"},
		{"create", "--pull", "sometimes"},
		{"run", "--rm", "--pull", "sometimes", "web", "true"},
		{"run", "--rm", "-p", "http", "web", "true"},
		{"run", "--rm", "-v", "data:relative", "web", "true"},
		{"run", "--rm", "-e", "=1", "web", "true"},
		{"exec", "-e", "=1", "web", "true"},
		{"logs", "--tail", "ten"},
		{"logs", "--since", "yesterday"},
		{"stop", "-t", "5s"},
		{"port", "--protocol", "sctp", "web", "80"},
		{"ps", "--status", "sleeping"},
		{"ps", "--format", "yaml"},
		{"ls", "--format", "yaml"},
		{"images", "-a"},
		{"images", "--format", "yaml"},
		{"image", "ls", "--format", "yaml"},
		{"volume", "ls", "--format", "yaml"},
		{"volume", "inspect", "--format", "table", "x"},
		{"build", "-f", "Dockerfile.dev"},
		{"build", "--target", "dev"},
		{"--log-level", "chatty", "up", "-d"},
		{"--progress", "fancy", "up", "-d"},
		{"up", "-d", "nosuch"},
		{"up", "--exit-code-from", "nosuch"},
		{"cp", "a", "b"},
		{"init", "--template", "cobol", "starter"},
	} {
		r := e.berth(args...)
		if r.Code != 2 {
			t.Errorf("berth %s: exit %d, want 2 (a usage error)\n%s%s", strings.Join(args, " "), r.Code, r.Stdout, r.Stderr)
		}
	}
	ents, _ := os.ReadDir(filepath.Join(e.Root, "containers"))
	for _, ent := range ents {
		if ent.IsDir() {
			t.Errorf("refused commands created container %s", ent.Name())
		}
	}
	if _, err := os.Stat(filepath.Join(e.Dir, "starter")); err == nil {
		t.Error("init with an unknown template wrote its directory")
	}
}
