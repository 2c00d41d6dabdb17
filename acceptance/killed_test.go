package acceptance

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berthdev/berth/internal/busybox"
)

const killedStack = `services:
  db:
    image: kbox
    command: ["sleep", "3600"]
    volumes: ["data:/data", "/anon"]
  web:
    image: kbox
    command: ["sleep", "3600"]
    depends_on: [db]
    volumes: ["data:/shared", "/cache"]
volumes:
  data:
`

// A command killed halfway (SIGKILL, OOM, a cancelled CI job) used to leave
// volume references to containers that never came to exist, so that
// `down -v`, `volume rm` and `volume prune` refused the volume forever;
// anonymous volumes nobody could see; and .creating/.removing directories
// and project lock directories that nothing removed. Each subtest kills
// berth at a named point, then checks that `down -v` leaves nothing.
func TestKilledCommandsLeaveNothingAfterDownV(t *testing.T) {
	for _, tc := range []struct {
		name, point string
		down        bool // kill `down` instead of `up -d`
	}{
		{"up before the container exists", "create-before-container", false},
		{"up while the container directory is being made", "container-creating", false},
		{"down while a container directory is being removed", "container-removing", true},
		{"up after starting the keeper, before handing it a container", "keeper-spawned", false},
		{"up after handing the keeper a container, before its reply", "keeper-request-sent", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.importBusybox("kbox", busybox.Options{})
			e.writeFile("compose.yaml", killedStack)
			if tc.down {
				e.must("up", "-d")
			}
			verb := []string{"up", "-d"}
			if tc.down {
				verb = []string{"down", "-t", "0"}
			}
			e.Env = []string{"BERTH_TEST_FAILPOINT=" + tc.point}
			if r := e.berth(verb...); r.Code != -1 {
				t.Fatalf("berth %v was not killed at %s: exit %d\n%s", verb, tc.point, r.Code, r.Stderr)
			}
			e.Env = nil
			if tc.point == "create-before-container" {
				// The named volume is referenced by a container that never
				// came to exist: it must not be reported as in use.
				if r := e.berth("volume", "rm", e.Project+"_data"); r.Code != 0 {
					t.Errorf("volume rm after a killed up: exit %d: %s", r.Code, r.Stderr)
				}
			}
			e.must("down", "-v", "-t", "0")
			assertRootEmpty(t, e.Root)
		})
	}
}

// assertRootEmpty checks that a berth root holds nothing of any project:
// no container, volume or project directory, and no half-made one.
func assertRootEmpty(t *testing.T, root string) {
	t.Helper()
	for _, sub := range []string{"containers", "volumes", "projects"} {
		ents, _ := os.ReadDir(filepath.Join(root, sub))
		for _, ent := range ents {
			if ent.Name() == ".lock" {
				continue
			}
			t.Errorf("left in %s: %s", sub, ent.Name())
			if sub == "volumes" && ent.IsDir() {
				refs, _ := os.ReadDir(filepath.Join(root, sub, ent.Name(), "refs"))
				var names []string
				for _, r := range refs {
					names = append(names, r.Name())
				}
				t.Logf("volume %s references: %s", ent.Name(), strings.Join(names, ", "))
			}
		}
	}
}
