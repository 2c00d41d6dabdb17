package acceptance

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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

// eventLine is one line of `berth events --json`.
type eventLine struct {
	Time       time.Time         `json:"time"`
	Type       string            `json:"type"`
	Action     string            `json:"action"`
	ID         string            `json:"id"`
	Service    string            `json:"service"`
	Attributes map[string]string `json:"attributes"`
}

// eventStream is a running `berth events --json`.
type eventStream struct {
	t      *testing.T
	cmd    *exec.Cmd
	mu     sync.Mutex
	lines  []eventLine
	raw    []string
	done   chan struct{}
	cancel context.CancelFunc
}

func (e *env) followEvents(args ...string) *eventStream {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	full := append([]string{"--root", e.Root, "--state", e.State, "events", "--json"}, args...)
	cmd := exec.CommandContext(ctx, binary, full...)
	cmd.Dir = e.Dir
	cmd.Env = append(os.Environ(), "COMPOSE_PROJECT_NAME="+e.Project)
	out, err := cmd.StdoutPipe()
	if err != nil {
		e.t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	s := &eventStream{t: e.t, cmd: cmd, done: make(chan struct{}), cancel: cancel}
	go func() {
		defer close(s.done)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			var l eventLine
			err := json.Unmarshal(sc.Bytes(), &l)
			s.mu.Lock()
			s.raw = append(s.raw, sc.Text())
			if err == nil {
				s.lines = append(s.lines, l)
			}
			s.mu.Unlock()
		}
		io.Copy(io.Discard, out)
	}()
	e.t.Cleanup(s.stop)
	return s
}

func (s *eventStream) stop() {
	s.cancel()
	<-s.done
	s.cmd.Wait()
}

// actions lists the actions seen for a service, in order.
func (s *eventStream) actions(service string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, l := range s.lines {
		if l.Service == service {
			out = append(out, l.Action)
		}
	}
	return out
}

func (s *eventStream) find(service, action string) (eventLine, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range s.lines {
		if l.Service == service && l.Action == action {
			return l, true
		}
	}
	return eventLine{}, false
}

func (s *eventStream) dump() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.raw, "\n")
}

// inOrder says whether want occurs in got as a subsequence.
func inOrder(got, want []string) bool {
	i := 0
	for _, g := range got {
		if i < len(want) && g == want[i] {
			i++
		}
	}
	return i == len(want)
}

// Regression: events were a 200 ms poll of ps, so a container that lived
// less than that showed `create` and never `start` or `die`.
func TestEventsRecordShortLivedContainers(t *testing.T) {
	e := newEnv(t)
	e.importBusybox("bb", busybox.Options{})
	e.writeFile("compose.yaml", `
services:
  long:
    image: bb
    command: ["sleep", "1000"]
  once:
    image: bb
    command: ["true"]
    profiles: [once]
`)
	e.must("up", "-d", "long")
	all := e.followEvents()
	onlyLong := e.followEvents("long")
	// Both followers are listening once a pause shows in both; a pause
	// held until then is seen however the followers watch.
	deadline := time.Now().Add(30 * time.Second)
	for {
		e.must("pause", "long")
		ready := func() bool {
			_, a := all.find("long", "pause")
			_, b := onlyLong.find("long", "pause")
			return a && b
		}
		for end := time.Now().Add(time.Second); !ready() && time.Now().Before(end); {
			time.Sleep(25 * time.Millisecond)
		}
		e.must("unpause", "long")
		if ready() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the event followers never reported a pause:\n%s", all.dump())
		}
	}
	e.eventually(10*time.Second, "the unpause event", func() bool { _, ok := all.find("long", "unpause"); return ok })

	e.must("--profile", "once", "up", "-d", "once")
	e.eventually(20*time.Second, "die of the one-shot container", func() bool { _, ok := all.find("once", "die"); return ok })
	if got := all.actions("once"); !inOrder(got, []string{"create", "start", "die"}) {
		t.Errorf("one-shot container: actions %v, want create, start, die in order\n%s", got, all.dump())
	}
	die, _ := all.find("once", "die")
	if die.Attributes["exitCode"] != "0" || die.Type != "container" || die.ID == "" || die.Attributes["image"] == "" ||
		!strings.HasPrefix(die.Attributes["name"], e.Project+"-once-") {
		t.Errorf("die event: %+v", die)
	}
	if die.Time.IsZero() || time.Since(die.Time) > time.Minute {
		t.Errorf("die event time %v", die.Time)
	}

	e.must("kill", "long")
	e.eventually(20*time.Second, "die of the killed container", func() bool { _, ok := all.find("long", "die"); return ok })
	if got := all.actions("long"); !inOrder(got, []string{"pause", "unpause", "kill", "die"}) {
		t.Errorf("killed container: actions %v, want kill then die\n%s", got, all.dump())
	}
	if kill, _ := all.find("long", "kill"); kill.Attributes["signal"] != "9" {
		t.Errorf("kill event: %+v", kill)
	}
	if die, _ := all.find("long", "die"); die.Attributes["exitCode"] != "137" {
		t.Errorf("die event of the killed container: %+v", die)
	}

	// The service filter: the follower of long saw long's kill and die,
	// and nothing of once.
	e.eventually(10*time.Second, "die in the filtered stream", func() bool { _, ok := onlyLong.find("long", "die"); return ok })
	if got := onlyLong.actions("once"); len(got) > 0 {
		t.Errorf("events long reported once: %v", got)
	}
	e.must("--profile", "once", "down", "-t", "1")
	e.eventually(10*time.Second, "destroy", func() bool { _, ok := all.find("once", "destroy"); return ok })

	// --since replays what is kept and --until ends the stream, here in
	// compose's text format.
	created, _ := all.find("once", "create")
	r := e.berth("events", "--since", created.Time.Add(-time.Millisecond).Format(time.RFC3339Nano), "--until", "0s", "once")
	if r.Code != 0 {
		t.Fatalf("events --since --until: exit %d\n%s", r.Code, r.Stderr)
	}
	lines := strings.Split(strings.TrimSpace(r.Stdout), "\n")
	var got []string
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) < 5 || f[2] != "container" || f[4] != created.ID {
			t.Fatalf("events text line %q", l)
		}
		got = append(got, f[3])
	}
	if want := []string{"create", "start", "die", "destroy"}; strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("events --since --until once: %v, want %v\n%s", got, want, r.Stdout)
	}
	if !strings.Contains(lines[2], "exitCode=0") || !strings.Contains(lines[2], "name="+created.Attributes["name"]) {
		t.Errorf("die line %q", lines[2])
	}
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
