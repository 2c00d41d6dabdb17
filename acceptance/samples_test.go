package acceptance

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The samples run as their READMEs say, each from a copy of samples/ (so
// that edits never touch the checkout), with the test's own root, state and
// project name, and their images made by samples/mkimage.sh.

// copySamples copies the checkout's samples/ into the test's directory and
// points the test at the sample named.
func (e *env) copySamples(sample string) {
	e.t.Helper()
	copyTree(e.t, "../samples", e.Dir)
	e.Dir = filepath.Join(e.Dir, sample)
}

// copyTree copies a directory tree of regular files and directories,
// keeping the files' modes.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		to := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return os.MkdirAll(to, 0o755)
		case info.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return os.WriteFile(to, b, info.Mode().Perm())
		}
		return nil
	})
	if err != nil {
		t.Fatalf("copying %s: %v", src, err)
	}
}

// scriptEnv is the environment in which a sample's scripts reach the
// test's berth: the binary, its root and state, and the project name.
func (e *env) scriptEnv() []string {
	return append(append(os.Environ(),
		"BERTH="+binary, "BERTH_ROOT="+e.Root, "BERTH_STATE="+e.State,
		"COMPOSE_PROJECT_NAME="+e.Project), e.Env...)
}

// script runs a program of the samples from the sample's directory.
func (e *env) script(name string, args ...string) string {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = e.Dir
	cmd.Env = e.scriptEnv()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		e.t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out.String())
	}
	return out.String()
}

// requireVerb skips a test of a verb this berth does not have yet, except
// in CI, where every sample must run.
func requireVerb(t *testing.T, verb string) {
	t.Helper()
	// An unknown verb's --help is the root command's help.
	out, err := exec.Command(binary, verb, "--help").Output()
	if err == nil && strings.Contains(string(out), "\n  berth "+verb+" ") {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("berth has no %q command", verb)
	}
	t.Skipf("berth has no %q command yet", verb)
}

// publishedURL is the http:// address of a service's published port.
func (e *env) publishedURL(service, port string) string {
	e.t.Helper()
	return "http://" + strings.TrimSpace(e.must("port", service, port))
}

// httpdPID is the host PID of a service's httpd, as `berth top` shows it.
func (e *env) httpdPID(service string) string {
	e.t.Helper()
	for _, l := range strings.Split(e.must("top", service), "\n") {
		if f := strings.Fields(l); len(f) >= 4 && f[3] == "httpd" {
			return f[1]
		}
	}
	e.t.Fatalf("no httpd in berth top %s", service)
	return ""
}

// The demo (`make demo`) shows what each of its steps says: the stack
// answering through its published port, a line of each service's log, the
// count in the named volume, an edited page served without a restart; it
// leaves the checkout as it was and the stack running, and `demo.sh down`
// removes all of it.
func TestSampleQuickstartDemo(t *testing.T) {
	e := newEnv(t)
	e.copySamples("quickstart")
	page, err := os.ReadFile(filepath.Join(e.Dir, "web/index.html"))
	if err != nil {
		t.Fatal(err)
	}
	out := e.script("./demo.sh")

	// "berth logs --tail 1   # the last line of each service's log"
	_, logs, _ := strings.Cut(out, "berth logs --tail 1")
	logs, _, _ = strings.Cut(logs, "\n$ ")
	for _, svc := range []string{"web-1", "store-1"} {
		if !regexp.MustCompile(`(?m)^` + svc + ` +\| \S`).MatchString(logs) {
			t.Errorf("the demo's log step shows no line of %s:\n%s", svc, logs)
		}
	}
	if !strings.Contains(out, "Edited while running:") || !strings.Contains(out, "web was not restarted") {
		t.Errorf("the demo's edit step did not show the edited page:\n%s", out)
	}
	url := e.publishedURL("web", "8080")
	if !strings.Contains(out, url+"/") {
		t.Errorf("the demo does not print the URL %s/:\n%s", url, out)
	}
	for _, next := range []string{"logs -f", "down", "make demo-down"} {
		if !strings.Contains(out, next) {
			t.Errorf("the demo does not suggest %q:\n%s", next, out)
		}
	}
	if after, _ := os.ReadFile(filepath.Join(e.Dir, "web/index.html")); !bytes.Equal(after, page) {
		t.Errorf("the demo left web/index.html edited:\n%s", after)
	}

	// The stack it left answers: the demo counted two visits.
	if got := httpGet(t, url+"/cgi-bin/visit"); !strings.Contains(got, "visit number 3, counted by store") {
		t.Errorf("third visit: %q", got)
	}
	if got := strings.TrimSpace(e.must("exec", "-T", "store", "cat", "/data/count")); got != "3" {
		t.Errorf("count in the volume: %q", got)
	}

	e.script("./demo.sh", "down")
	if rows := e.ps(); len(rows) != 0 {
		t.Errorf("containers after demo.sh down: %+v", rows)
	}
	if vols := e.must("volume", "ls", "-q"); strings.TrimSpace(vols) != "" {
		t.Errorf("volumes after demo.sh down: %s", vols)
	}
}

// compose.watch.yaml swaps web's bind mount for develop.watch rules: web
// serves the pages of its image, and `berth watch` copies an edited page
// into the running container.
func TestSampleQuickstartWatch(t *testing.T) {
	e := newEnv(t)
	e.copySamples("quickstart")
	var cfg struct {
		Services map[string]struct {
			Volumes []struct{ Type, Target string }
			Develop struct {
				Watch []struct{ Path, Action, Target string }
			}
		}
	}
	out := e.must("-f", "compose.yaml", "-f", "compose.watch.yaml", "config", "--format", "json")
	if err := json.Unmarshal([]byte(out), &cfg); err != nil {
		t.Fatalf("config json: %v\n%s", err, out)
	}
	web := cfg.Services["web"]
	if len(web.Volumes) != 0 {
		t.Errorf("web keeps volumes under compose.watch.yaml: %+v", web.Volumes)
	}
	if w := web.Develop.Watch; len(w) == 0 || w[0].Action != "sync" || w[0].Target != "/www" || w[0].Path != filepath.Join(e.Dir, "web") {
		t.Errorf("web's develop.watch: %+v", w)
	}

	requireVerb(t, "watch")
	e.Env = append(e.Env, "COMPOSE_FILE=compose.yaml:compose.watch.yaml")
	e.script("../mkimage.sh")
	e.must("up", "-d", "--wait")
	url := e.publishedURL("web", "8080")
	if got := httpGet(t, url+"/"); !strings.Contains(got, "Hello from") {
		t.Fatalf("page from web's image: %q", got)
	}
	pid := e.httpdPID("web")

	ctx, cancel := context.WithCancel(context.Background())
	watch := exec.CommandContext(ctx, binary, "--root", e.Root, "--state", e.State, "watch", "--no-up")
	watch.Dir, watch.Env = e.Dir, e.scriptEnv()
	var wout bytes.Buffer
	watch.Stdout, watch.Stderr = &wout, &wout
	watch.Cancel = func() error { return watch.Process.Signal(syscall.SIGINT) }
	if err := watch.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cancel()
		watch.Wait()
	}()
	// The watch may still be starting when a first edit is made: edit
	// again on every poll until one is served.
	page := filepath.Join(e.Dir, "web/index.html")
	n := 0
	e.eventually(30*time.Second, "the edited page served\n"+wout.String(), func() bool {
		n++
		if err := os.WriteFile(page, []byte("<h1>edit "+strings.Repeat("!", n)+"</h1>\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		got, _ := tryGet(url + "/")
		return strings.HasPrefix(got, "<h1>edit !")
	})
	if after := e.httpdPID("web"); after != pid {
		t.Errorf("web was restarted: httpd was PID %s, is %s", pid, after)
	}
	cancel()
	watch.Wait()
	e.must("down", "-v")
}

// `berth test smoke` runs the quickstart's smoke test in a throwaway stack.
func TestSampleQuickstartSmokeTest(t *testing.T) {
	requireVerb(t, "test")
	e := newEnv(t)
	e.copySamples("quickstart")
	e.script("../mkimage.sh")
	if r := e.berth("test", "smoke"); r.Code != 0 {
		t.Fatalf("berth test smoke: exit %d\n%s\n%s", r.Code, r.Stdout, r.Stderr)
	}
	if rows := e.ps(); len(rows) != 0 {
		t.Errorf("containers left by berth test: %+v", rows)
	}
}

// The data-only container prepares the volume and exits; the writer's
// lines reach the reader through volumes_from, which the reader cannot
// write to.
func TestSampleDataContainer(t *testing.T) {
	e := newEnv(t)
	e.copySamples("data-container")
	e.script("../mkimage.sh")
	e.must("up", "-d")
	writer := strings.TrimSpace(e.must("exec", "-T", "writer", "hostname"))
	e.eventually(20*time.Second, "the writer's line in the reader's log", func() bool {
		return strings.Contains(e.must("logs", "reader"), "written by "+writer)
	})
	if r := e.berth("exec", "-T", "reader", "touch", "/shared/x"); r.Code == 0 {
		t.Error("the reader wrote to its read-only volumes_from volume")
	}
	if _, err := os.Stat(filepath.Join(e.Dir, "x")); err == nil {
		t.Error("x written in the project directory")
	}
	data := e.byService(e.ps())["data"]
	if data.State != "exited" || data.ExitCode != 0 {
		t.Errorf("the data container: %+v", data)
	}
	e.must("down", "-v")
}

// An unchanged Fig-era fig.yml runs, and its app finds the database from
// the link's legacy variables.
func TestSampleFigV1(t *testing.T) {
	e := newEnv(t)
	e.copySamples("fig-v1")
	e.script("../mkimage.sh")
	e.must("up", "-d")
	got := httpGet(t, e.publishedURL("web", "8000")+"/cgi-bin/app")
	addr := strings.TrimSpace(e.must("exec", "-T", "web", "sh", "-c", "echo $DATABASE_PORT_5432_TCP_ADDR"))
	if addr == "" || !strings.Contains(got, "database at "+addr+":5432") || !strings.Contains(got, "it says: 42 rows") {
		t.Errorf("the app's answer (link address %q):\n%s", addr, got)
	}
	e.must("down")
}

// tryGet fetches a URL once.
func tryGet(url string) (string, error) {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return string(b), fmt.Errorf("GET %s: status %d", url, resp.StatusCode)
	}
	return string(b), err
}

// throwawayStacks are the names of the project's throwaway stacks that
// berth lists.
func (e *env) throwawayStacks() []string {
	e.t.Helper()
	var out []string
	for _, n := range strings.Fields(e.must("ls", "-a", "-q")) {
		if strings.HasPrefix(n, e.Project+"-test-") {
			out = append(out, n)
		}
	}
	return out
}

// `berth test tests` runs the suite beside a database-like service in a
// stack of its own: runs side by side pass (each starts with an empty
// store, and db's fixed host port is no obstacle), a failing run exits
// with the suite's code, and a cancelled one removes its stack.
func TestSampleThrowawayTests(t *testing.T) {
	requireVerb(t, "test")
	e := newEnv(t)
	e.copySamples("throwaway-tests")
	e.script("../mkimage.sh")

	results := make(chan result, 3)
	for range 3 {
		go func() { results <- e.berth("test", "tests") }()
	}
	for range 3 {
		if r := <-results; r.Code != 0 {
			t.Errorf("a parallel berth test tests: exit %d\n%s\n%s", r.Code, r.Stdout, r.Stderr)
		}
	}
	if r := e.berth("test", "tests", "--", "sh", "-c", "exit 3"); r.Code != 3 {
		t.Errorf("a failing run: exit %d, want 3\n%s", r.Code, r.Stderr)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	run := exec.CommandContext(ctx, binary, "--root", e.Root, "--state", e.State, "test", "tests", "--", "sleep", "60")
	run.Dir, run.Env = e.Dir, e.scriptEnv()
	if err := run.Start(); err != nil {
		t.Fatal(err)
	}
	e.eventually(30*time.Second, "the cancelled run's stack", func() bool { return len(e.throwawayStacks()) > 0 })
	run.Process.Signal(syscall.SIGTERM)
	err := run.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 128+int(syscall.SIGTERM) {
		t.Errorf("the cancelled run: %v, want exit code 143", err)
	}
	if left := e.throwawayStacks(); len(left) != 0 {
		t.Errorf("stacks left: %v", left)
	}
	if vols := strings.TrimSpace(e.must("volume", "ls", "-q")); vols != "" {
		t.Errorf("volumes left: %s", vols)
	}
}
