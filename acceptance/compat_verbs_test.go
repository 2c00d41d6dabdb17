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

// mountCount counts the mounts on target in a service container.
func (e *env) mountCount(service, target string) int {
	e.t.Helper()
	n := 0
	for _, l := range strings.Split(e.must("exec", "-T", service, "cat", "/proc/self/mountinfo"), "\n") {
		if f := strings.Fields(l); len(f) > 4 && f[4] == target {
			n++
		}
	}
	return n
}

// Regression: a container with network_mode service:X kept a hostname and
// an /etc/hosts of its own, so `hostname -i` in it said "Unknown host";
// and volumes_from carried the source's /etc/hosts and resolv.conf mounts
// along with its volumes.
func TestNetworkModeServiceSharesEtcFiles(t *testing.T) {
	e := newEnv(t)
	e.importBusybox("bb", busybox.Options{})
	e.writeFile("compose.yaml", `
services:
  app:
    image: bb
    command: ["sleep", "1000"]
    volumes: ["/data"]
  side:
    image: bb
    network_mode: "service:app"
    command: ["sleep", "1000"]
  copier:
    image: bb
    volumes_from: [app]
    command: ["sleep", "1000"]
  offline:
    image: bb
    network_mode: none
    volumes_from: [app]
    command: ["sleep", "1000"]
  late:
    image: bb
    command: ["sleep", "1000"]
    profiles: [later]
`)
	e.must("up", "-d")
	appHost := strings.TrimSpace(e.must("exec", "-T", "app", "hostname"))
	appIP := strings.TrimSpace(e.must("exec", "-T", "app", "hostname", "-i"))
	if got := strings.TrimSpace(e.must("exec", "-T", "side", "hostname")); got != appHost {
		t.Errorf("side's hostname is %q, app's %q", got, appHost)
	}
	r := e.berth("exec", "-T", "side", "hostname", "-i")
	if r.Code != 0 || strings.TrimSpace(r.Stdout) != appIP {
		t.Errorf("hostname -i in side: exit %d, %q %q; app's address is %q", r.Code, r.Stdout, r.Stderr, appIP)
	}
	for _, f := range []string{"/etc/hosts", "/etc/resolv.conf", "/etc/hostname"} {
		if a, s := e.must("exec", "-T", "app", "cat", f), e.must("exec", "-T", "side", "cat", f); a != s {
			t.Errorf("%s differs:\napp:\n%s\nside:\n%s", f, a, s)
		}
	}
	// The embedded name server of app's namespace answers side too.
	if r := e.berth("exec", "-T", "side", "nslookup", "copier"); r.Code != 0 {
		t.Errorf("nslookup copier in side: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	// It is app's very file: a container that comes later is in it.
	e.must("--profile", "later", "up", "-d", "late")
	lateName := e.byService(e.ps())["late"].Name
	if hosts := e.must("exec", "-T", "side", "cat", "/etc/hosts"); !strings.Contains(hosts, lateName) {
		t.Errorf("side's /etc/hosts does not follow app's: no %s in\n%s", lateName, hosts)
	}

	// volumes_from shares volumes, not the source's network identity.
	for _, f := range []string{"/etc/hosts", "/etc/resolv.conf"} {
		if n := e.mountCount("copier", f); n != 1 {
			t.Errorf("copier has %d mounts on %s, want 1", n, f)
		}
	}
	if n := e.mountCount("copier", "/data"); n != 1 {
		t.Errorf("copier has %d mounts on /data, want 1 (from app)", n)
	}
	copierHost := strings.TrimSpace(e.must("exec", "-T", "copier", "hostname"))
	if copierHost == appHost {
		t.Errorf("copier took app's hostname %q", appHost)
	}
	if hosts := e.must("exec", "-T", "offline", "cat", "/etc/hosts"); strings.Contains(hosts, appIP) || strings.Contains(hosts, appHost) {
		t.Errorf("offline (network_mode none, volumes_from app) has app's hosts file:\n%s", hosts)
	}
	e.must("--profile", "later", "down", "-v", "-t", "1")
}

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
