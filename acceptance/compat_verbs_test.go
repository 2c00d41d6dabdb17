package acceptance

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/busybox"
)

// Regression: an attached up went on following a stack that `down` took
// away from another shell. It ends, as compose's does, with status 0.
func TestAttachedUpEndsWhenDownRemovesStack(t *testing.T) {
	e := newEnv(t)
	e.importBusybox("bb", busybox.Options{})
	e.writeFile("compose.yaml", `
services:
  a:
    image: bb
    command: ["sleep", "1000"]
`)
	cmd := exec.Command(binary, "--root", e.Root, "--state", e.State, "-p", e.Project, "up", "-t", "1")
	cmd.Dir = e.Dir
	var out strings.Builder
	var mu sync.Mutex
	cmd.Stdout = writerFunc(func(b []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return out.Write(b) })
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	e.eventually(30*time.Second, "the service running", func() bool { return e.byService(e.ps())["a"].State == "running" })
	e.must("down", "-t", "1")
	select {
	case err := <-done:
		var ee *exec.ExitError
		code := 0
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != 0 {
			mu.Lock()
			t.Errorf("attached up exited %d after down\n%s", code, out.String())
			mu.Unlock()
		}
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		<-done
		mu.Lock()
		t.Fatalf("attached up still running 30s after down\n%s", out.String())
		mu.Unlock()
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

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
