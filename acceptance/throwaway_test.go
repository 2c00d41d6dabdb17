package acceptance

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/busybox"
)

// throwawayStack has the two kinds of depends_on condition `berth test`
// waits for: web healthy (it publishes a fixed host port and has a fixed
// container name, both of which would collide between parallel runs), and
// migrate completed. The tests service checks both, and its volumes
// (named, anonymous and a bind of the project's out/ directory) must go
// with the stack.
const throwawayStack = `services:
  web:
    image: tbox
    container_name: fixedweb
    command: ["sh", "-c", "mkdir -p /www && echo hello > /www/index.html && for i in $$(seq 1 50); do echo web line $$i; done && exec httpd -f -p 80 -h /www"]
    ports: ["${FIXED_PORT}:80"]
    healthcheck:
      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1/"]
      interval: 1s
      start_interval: 50ms
      start_period: 30s
  migrate:
    image: tbox
    command: ["sh", "-c", "echo migrated > /data/state"]
    volumes: ["data:/data"]
  tests:
    image: tbox
    depends_on:
      web: {condition: service_healthy}
      migrate: {condition: service_completed_successfully}
    volumes: ["data:/data", "/scratch", "./out:/out"]
    command: ["sh", "-c", "wget -q -O - http://web/ && cat /data/state"]
  hosttests:
    image: tbox
    network_mode: host
    depends_on:
      web: {condition: service_healthy}
    volumes: ["./out:/out"]
    command:
      - sh
      - -c
      - |
        echo $$BERTH_ADDR_WEB_80 > /out/$$BERTH_PROJECT.addr.tmp && mv /out/$$BERTH_PROJECT.addr.tmp /out/$$BERTH_PROJECT.addr
        wget -q -O - http://$$BERTH_ADDR_WEB_80/ > /out/$$BERTH_PROJECT.body || exit 9
        while [ ! -e /out/$$BERTH_PROJECT.go ]; do sleep 0.05; done
  sick:
    image: tbox
    command: ["sh", "-c", "echo sick starting; exec sleep 3600"]
    healthcheck:
      test: ["CMD-SHELL", "echo the check says no; exit 1"]
      interval: 100ms
      retries: 2
  needssick:
    image: tbox
    depends_on:
      sick: {condition: service_healthy}
    command: ["true"]
volumes:
  data:
`

// newThrowawayEnv is a test's berth with the throwaway stack's project
// and image, and a fixed host port taken by the test itself for as long
// as it runs, so that a run publishing it would fail.
func newThrowawayEnv(t *testing.T) (*env, int) {
	t.Helper()
	e := newEnv(t)
	e.importBusybox("tbox", busybox.Options{})
	e.writeFile("compose.yaml", throwawayStack)
	os.MkdirAll(filepath.Join(e.Dir, "out"), 0o777)
	l, err := net.Listen("tcp4", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	port := l.Addr().(*net.TCPAddr).Port
	e.Env = []string{fmt.Sprintf("FIXED_PORT=%d", port)}
	return e, port
}

// startCmd runs berth in the background, for a test that signals it or
// runs several at once.
func (e *env) startCmd(args ...string) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
	e.t.Helper()
	full := append([]string{"--root", e.Root, "--state", e.State}, args...)
	cmd := exec.Command(binary, full...)
	cmd.Dir = e.Dir
	cmd.Env = append(append(os.Environ(), "COMPOSE_PROJECT_NAME="+e.Project), e.Env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	return cmd, &out, &errb
}

// exitOf is a finished command's exit code (-1 when a signal killed it).
func exitOf(t *testing.T, err error) int {
	t.Helper()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.ExitCode()
	}
	t.Fatal(err)
	return 0
}

// The test's exit code is berth's, 0 or not, and once the dependencies'
// conditions were met; nothing of the throwaway stack is left either way.
func TestThrowawayExitCodePassesThrough(t *testing.T) {
	e, _ := newThrowawayEnv(t)
	for _, code := range []int{0, 3} {
		r := e.berth("test", "tests", "--", "sh", "-c", fmt.Sprintf("wget -q -O - http://web/ && cat /data/state && exit %d", code))
		if r.Code != code {
			t.Fatalf("berth test: exit %d, want %d\n%s", r.Code, code, r.Stderr)
		}
		if r.Stdout != "hello\nmigrated\n" {
			t.Errorf("the test saw %q: web healthy and migrate done were not both met", r.Stdout)
		}
		assertRootEmpty(t, e.Root)
	}
	// Without a command, the service's own runs.
	if r := e.berth("test", "tests"); r.Code != 0 || r.Stdout != "hello\nmigrated\n" {
		t.Errorf("the service's own command: exit %d, %q\n%s", r.Code, r.Stdout, r.Stderr)
	}
	assertRootEmpty(t, e.Root)
}

// --json prints one record: the outcome, the exit code, the durations per
// phase and the final state of every container.
func TestThrowawayJSONRecord(t *testing.T) {
	e, _ := newThrowawayEnv(t)
	r := e.berth("test", "--json", "tests", "--", "sh", "-c", "echo to stderr; exit 3")
	if r.Code != 3 {
		t.Fatalf("exit %d\n%s", r.Code, r.Stderr)
	}
	var rec struct {
		Project   string           `json:"project"`
		Outcome   string           `json:"outcome"`
		ExitCode  int              `json:"exit_code"`
		Durations map[string]int64 `json:"durations_ms"`
		Services  []struct {
			Service  string `json:"service"`
			Test     bool   `json:"test"`
			State    string `json:"state"`
			ExitCode int    `json:"exit_code"`
			Health   string `json:"health"`
		} `json:"services"`
		Removed bool `json:"removed"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &rec); err != nil || strings.Count(r.Stdout, "\n") != 1 {
		t.Fatalf("standard output is not one JSON record: %v\n%s", err, r.Stdout)
	}
	if !strings.HasPrefix(rec.Project, e.Project+"-test-") || rec.Outcome != "failed" || rec.ExitCode != 3 || !rec.Removed {
		t.Errorf("record: %+v", rec)
	}
	for _, k := range []string{"setup", "test", "teardown", "total"} {
		if _, ok := rec.Durations[k]; !ok {
			t.Errorf("no %s duration in %v", k, rec.Durations)
		}
	}
	states := map[string]string{}
	for _, s := range rec.Services {
		states[s.Service] = fmt.Sprintf("%s/%d/%s/%v", s.State, s.ExitCode, s.Health, s.Test)
	}
	want := map[string]string{"web": "running/0/healthy/false", "migrate": "exited/0//false", "tests": "exited/3//true"}
	for k, v := range want {
		if states[k] != v {
			t.Errorf("%s: %s, want %s (all: %v)", k, states[k], v, states)
		}
	}
	if !strings.Contains(r.Stderr, "to stderr") {
		t.Errorf("the test's output is not on standard error:\n%s", r.Stderr)
	}
	assertRootEmpty(t, e.Root)
}

// A run that fails shows the last lines of each dependency's log and the
// health of each, so that a CI log tells why; a dependency that turns
// unhealthy fails the run before the test starts.
func TestThrowawayLogsOnFailure(t *testing.T) {
	e, _ := newThrowawayEnv(t)
	r := e.berth("test", "--logs-on-failure", "5", "tests", "--", "false")
	if r.Code != 1 {
		t.Fatalf("exit %d\n%s", r.Code, r.Stderr)
	}
	for _, want := range []string{"web line 50", "web line 46", "fixedweb-test-", "running, healthy", "migrate", "exited (0)"} {
		if !strings.Contains(r.Stderr, want) {
			t.Errorf("no %q in:\n%s", want, r.Stderr)
		}
	}
	if strings.Contains(r.Stderr, "web line 45\n") {
		t.Errorf("more than the last 5 lines:\n%s", r.Stderr)
	}
	assertRootEmpty(t, e.Root)

	r = e.berth("test", "needssick")
	if r.Code != 1 {
		t.Fatalf("a test whose dependency is unhealthy: exit %d\n%s", r.Code, r.Stderr)
	}
	for _, want := range []string{"unhealthy", "the check says no", "sick starting", "dependency failed"} {
		if !strings.Contains(r.Stderr, want) {
			t.Errorf("no %q in:\n%s", want, r.Stderr)
		}
	}
	assertRootEmpty(t, e.Root)
}

// Four runs of one project at once, whose web service publishes a fixed
// host port (held by the test) under a fixed container name, all pass: each
// gets a free port, given to the test as BERTH_ADDR_WEB_80 and shown by
// `berth port` while it runs, and nothing of any is left.
func TestThrowawayParallelRuns(t *testing.T) {
	e, fixed := newThrowawayEnv(t)
	type run struct {
		cmd       *exec.Cmd
		out, errb *bytes.Buffer
	}
	var runs []run
	for range 4 {
		cmd, out, errb := e.startCmd("--progress", "quiet", "test", "hosttests")
		runs = append(runs, run{cmd, out, errb})
	}
	t.Cleanup(func() {
		for _, r := range runs {
			r.cmd.Process.Kill()
		}
	})
	outDir := filepath.Join(e.Dir, "out")
	var addrs []string
	e.eventually(2*time.Minute, "four runs at once", func() bool {
		addrs, _ = filepath.Glob(filepath.Join(outDir, "*.addr"))
		return len(addrs) == 4
	})
	seen := map[string]bool{}
	for _, f := range addrs {
		project := strings.TrimSuffix(filepath.Base(f), ".addr")
		b, _ := os.ReadFile(f)
		addr := strings.TrimSpace(string(b))
		if seen[addr] || addr == fmt.Sprintf("127.0.0.1:%d", fixed) || !strings.HasPrefix(addr, "127.0.0.1:") {
			t.Errorf("run %s got %s (fixed port %d; others %v)", project, addr, fixed, seen)
		}
		seen[addr] = true
		if got := strings.TrimSpace(e.must("-p", project, "port", "web", "80")); got != "0.0.0.0:"+strings.TrimPrefix(addr, "127.0.0.1:") {
			t.Errorf("berth port during run %s: %s, the test was given %s", project, got, addr)
		}
		if body, _ := os.ReadFile(filepath.Join(outDir, project+".body")); string(body) != "hello\n" {
			t.Errorf("run %s reached web at %s and got %q", project, addr, body)
		}
		resp, err := http.Get("http://" + addr + "/")
		if err != nil {
			t.Errorf("from the host: %v", err)
		} else {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(body) != "hello\n" {
				t.Errorf("from the host, %s answers %q", addr, body)
			}
		}
		os.WriteFile(filepath.Join(outDir, project+".go"), nil, 0o644)
	}
	for _, r := range runs {
		if err := r.cmd.Wait(); err != nil {
			t.Errorf("a run failed: %v\n%s", err, r.errb.String())
		}
	}
	assertRootEmpty(t, e.Root)
}

// Ctrl-C, SIGTERM (a cancelled CI job) and --timeout end the test and
// remove the stack before berth exits, with the exit codes a shell and
// timeout(1) give.
func TestThrowawayInterruptedRunsLeaveNothing(t *testing.T) {
	e, _ := newThrowawayEnv(t)
	for _, tc := range []struct {
		sig  syscall.Signal
		code int
	}{{syscall.SIGINT, 130}, {syscall.SIGTERM, 143}} {
		started := filepath.Join(e.Dir, "out", "started")
		os.Remove(started)
		cmd, _, errb := e.startCmd("test", "tests", "--", "sh", "-c", "touch /out/started; exec sleep 3600")
		e.eventually(2*time.Minute, "the test to start", func() bool {
			_, err := os.Stat(started)
			return err == nil
		})
		cmd.Process.Signal(tc.sig)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if code := exitOf(t, err); code != tc.code {
				t.Errorf("after %v: exit %d, want %d\n%s", tc.sig, code, tc.code, errb.String())
			}
		case <-time.After(time.Minute):
			cmd.Process.Kill()
			t.Fatalf("berth test did not end after %v:\n%s", tc.sig, errb.String())
		}
		assertRootEmpty(t, e.Root)
	}
	r := e.berth("test", "--timeout", "3s", "tests", "--", "sleep", "3600")
	if r.Code != 124 || !strings.Contains(r.Stderr, "timed out") {
		t.Errorf("--timeout: exit %d, want 124\n%s", r.Code, r.Stderr)
	}
	assertRootEmpty(t, e.Root)
}

// A berth test killed outright (SIGKILL, OOM) leaves its stack marked with
// its owner; the next berth command of any kind on the root removes it.
// The kills are at a named point (the dependencies started, the test not
// yet) and while the test runs.
func TestThrowawayKilledStackIsRemovedByTheNextCommand(t *testing.T) {
	e, _ := newThrowawayEnv(t)
	e.Env = append(e.Env, "BERTH_TEST_FAILPOINT=test-dependencies-started")
	if r := e.berth("test", "tests"); r.Code != -1 {
		t.Fatalf("berth test was not killed at the failpoint: exit %d\n%s", r.Code, r.Stderr)
	}
	e.Env = e.Env[:len(e.Env)-1]
	assertStackLeft(t, e)
	r := e.berth("volume", "ls")
	if r.Code != 0 || !strings.Contains(r.Stderr, "whose owner is gone") {
		t.Errorf("volume ls after the kill: exit %d\n%s", r.Code, r.Stderr)
	}
	assertRootEmpty(t, e.Root)

	started := filepath.Join(e.Dir, "out", "started")
	cmd, _, _ := e.startCmd("test", "tests", "--", "sh", "-c", "touch /out/started; exec sleep 3600")
	e.eventually(2*time.Minute, "the test to start", func() bool {
		_, err := os.Stat(started)
		return err == nil
	})
	cmd.Process.Kill()
	cmd.Wait()
	assertStackLeft(t, e)
	e.must("ps")
	assertRootEmpty(t, e.Root)
}

// assertStackLeft checks that a killed run left its stack for the next
// command to find, so that the test proves that command removes it.
func assertStackLeft(t *testing.T, e *env) {
	t.Helper()
	marks, _ := filepath.Glob(filepath.Join(e.Root, "projects", e.Project+"-test-*", "throwaway.json"))
	cs, _ := os.ReadDir(filepath.Join(e.Root, "containers"))
	if len(marks) != 1 || len(cs) == 0 {
		t.Fatalf("the killed run left %d marked stacks and %d containers", len(marks), len(cs))
	}
}

// --keep keeps a failed stack, which no later command removes, and prints
// the one command that does; --prune removes kept stacks too.
func TestThrowawayKeepAndPrune(t *testing.T) {
	e, _ := newThrowawayEnv(t)
	var removes []string
	for range 2 {
		r := e.berth("test", "--keep", "tests", "--", "false")
		if r.Code != 1 {
			t.Fatalf("exit %d\n%s", r.Code, r.Stderr)
		}
		_, after, ok := strings.Cut(r.Stderr, "remove it with:\n")
		if !ok {
			t.Fatalf("no command to remove the kept stack:\n%s", r.Stderr)
		}
		removes = append(removes, strings.TrimSpace(strings.SplitN(after, "\n", 2)[0]))
	}
	e.must("volume", "ls")
	if marks, _ := filepath.Glob(filepath.Join(e.Root, "projects", "*", "throwaway.json")); len(marks) != 2 {
		t.Fatalf("%d kept stacks after another command, want 2", len(marks))
	}
	// The kept web is still there to look at.
	name := strings.Fields(removes[0])[len(strings.Fields(removes[0]))-2]
	if out := e.must("-p", name, "ps", "--format", "json"); !strings.Contains(out, `"running"`) {
		t.Errorf("the kept stack %s runs nothing: %s", name, out)
	}
	args := strings.Fields(removes[0])
	if args[0] != "berth" {
		t.Fatalf("printed command %q", removes[0])
	}
	cmd := exec.Command(binary, args[1:]...)
	cmd.Dir = t.TempDir() // not the project's directory: the command stands alone
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", removes[0], err, out)
	}
	if marks, _ := filepath.Glob(filepath.Join(e.Root, "projects", "*", "throwaway.json")); len(marks) != 1 {
		t.Fatalf("%d kept stacks after the printed command, want 1", len(marks))
	}
	out := e.must("test", "--prune")
	if !strings.Contains(out, e.Project+"-test-") {
		t.Errorf("--prune printed %q", out)
	}
	assertRootEmpty(t, e.Root)
}

// --seed-from starts the stack's named volumes as copy-on-write layers over
// another project's: the test sees the seeded data, and what it writes,
// changes and deletes never reaches the source volume.
func TestThrowawaySeedFrom(t *testing.T) {
	e, _ := newThrowawayEnv(t)
	e.must("run", "--rm", "--no-deps", "migrate", "sh", "-c", "echo seeded > /data/seed && echo keep > /data/keep")
	src := filepath.Join(e.Root, "volumes", e.Project+"_data", "_data")
	before := treeState(t, src)
	r := e.berth("test", "--seed-from", e.Project, "tests", "--", "sh", "-c",
		"cat /data/seed && echo changed > /data/seed && rm /data/keep && echo new > /data/new && cat /data/seed")
	if r.Code != 0 || r.Stdout != "seeded\nchanged\n" {
		t.Fatalf("exit %d, output %q\n%s", r.Code, r.Stdout, r.Stderr)
	}
	if after := treeState(t, src); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("the source volume changed: %v, was %v", after, before)
	}
	// The stack's own migrate wrote /data/state into its layer, not the
	// source.
	if _, err := os.Stat(filepath.Join(src, "state")); err == nil {
		t.Error("the stack's migrate wrote into the source volume")
	}
	if r := e.berth("test", "--seed-from", "nosuchproject", "tests"); r.Code != 1 || !strings.Contains(r.Stderr, "nosuchproject") {
		t.Errorf("seeding from a project without volumes: exit %d\n%s", r.Code, r.Stderr)
	}
	e.must("down", "-v")
	assertRootEmpty(t, e.Root)
}

// External volumes are shared with the stack, which says so, and outlive
// it with what the test wrote.
func TestThrowawaySharesExternalVolumes(t *testing.T) {
	e := newEnv(t)
	e.importBusybox("tbox", busybox.Options{})
	e.writeFile("compose.yaml", `services:
  tests:
    image: tbox
    volumes: ["shared:/shared"]
    command: ["sh", "-c", "echo $$BERTH_PROJECT > /shared/by"]
volumes:
  shared:
    external: true
    name: `+e.Project+`-ext
`)
	e.must("volume", "create", e.Project+"-ext")
	r := e.berth("test", "tests")
	if r.Code != 0 || !strings.Contains(r.Stderr, "warning") || !strings.Contains(r.Stderr, e.Project+"-ext") {
		t.Fatalf("exit %d; no warning about the shared volume:\n%s", r.Code, r.Stderr)
	}
	b, err := os.ReadFile(filepath.Join(e.Root, "volumes", e.Project+"-ext", "_data", "by"))
	if err != nil || !strings.HasPrefix(string(b), e.Project+"-test-") {
		t.Errorf("the external volume lost what the test wrote: %q %v", b, err)
	}
	e.must("volume", "rm", e.Project+"-ext")
	assertRootEmpty(t, e.Root)
}
