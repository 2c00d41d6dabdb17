package acceptance

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/berthdev/berth/internal/busybox"
)

// Regression: down printed Stopping and Stopped twice for each container
// when the project came from -p NAME alone (no compose file).
func TestDownReportsEachContainerOnce(t *testing.T) {
	e := newEnv(t)
	e.importBusybox("bb", busybox.Options{})
	e.writeFile("compose.yaml", `
services:
  web:
    image: bb
    command: ["sleep", "1000"]
    depends_on: [db]
  db:
    image: bb
    command: ["sleep", "1000"]
`)
	check := func(how string, r result) {
		t.Helper()
		if r.Code != 0 {
			t.Fatalf("%s: exit %d\n%s", how, r.Code, r.Stderr)
		}
		for _, svc := range []string{"web", "db"} {
			name := fmt.Sprintf("%s-%s-1", e.Project, svc)
			for _, status := range []string{"Stopping", "Stopped", "Removing", "Removed"} {
				re := regexp.MustCompile(`(?m)^Container ` + regexp.QuoteMeta(name) + ` +` + status + `$`)
				if n := len(re.FindAllString(r.Stderr, -1)); n != 1 {
					t.Errorf("%s: %q %s printed %d times, want once:\n%s", how, name, status, n, r.Stderr)
				}
			}
		}
	}
	e.must("up", "-d")
	check("down", e.berth("--progress", "plain", "down", "-t", "1"))

	e.must("up", "-d")
	// Without a compose file, from another directory: -p NAME alone.
	elsewhere := t.TempDir()
	cmd := exec.Command(binary, "--root", e.Root, "--state", e.State, "--progress", "plain", "-p", e.Project, "down", "-t", "1")
	cmd.Dir = elsewhere
	var stderr strings.Builder
	cmd.Stderr = &stderr
	err := cmd.Run()
	r := result{Stderr: stderr.String()}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		r.Code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	check("-p NAME down", r)
	if ents, _ := os.ReadDir(filepath.Join(e.Root, "containers")); len(ents) > 1 {
		t.Errorf("down left %v", ents)
	}
}
