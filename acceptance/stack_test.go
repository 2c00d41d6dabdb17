package acceptance

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/busybox"
)

type psRow struct {
	ID         string `json:"ID"`
	Name       string `json:"Name"`
	Service    string `json:"Service"`
	State      string `json:"State"`
	Health     string `json:"Health"`
	ExitCode   int    `json:"ExitCode"`
	Publishers []struct {
		URL           string `json:"URL"`
		TargetPort    int    `json:"TargetPort"`
		PublishedPort int    `json:"PublishedPort"`
		Protocol      string `json:"Protocol"`
	} `json:"Publishers"`
}

func (e *env) ps(args ...string) []psRow {
	e.t.Helper()
	out := e.must(append([]string{"ps", "-a", "--format", "json"}, args...)...)
	var rows []psRow
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		e.t.Fatalf("ps json: %v\n%s", err, out)
	}
	return rows
}

func (e *env) byService(rows []psRow) map[string]psRow {
	m := map[string]psRow{}
	for _, r := range rows {
		m[r.Service] = r
	}
	return m
}

const threeServices = `
services:
  web:
    image: bb
    command: ["httpd", "-f", "-p", "8080", "-h", "/www"]
    ports: ["127.0.0.1::8080"]
    volumes: ["./www:/www:ro"]
    depends_on: [api]
  api:
    image: bb
    command: ["sh", "-c", "echo api ready; exec httpd -f -p 9000 -h /srv"]
    volumes: ["./srv:/srv:ro"]
  worker:
    image: bb
    command: ["sh", "-c", "echo worker started; exec sleep 1000"]
`

func TestStackUpPsLogsDown(t *testing.T) {
	e := newEnv(t)
	e.importBusybox("bb", busybox.Options{})
	e.writeFile("compose.yaml", threeServices)
	e.writeFile("www/index.html", "hello from web\n")
	e.writeFile("www/cgi-bin/api", "#!/bin/sh\necho Content-Type: text/plain\necho\nwget -q -O - http://api:9000/name.txt\n")
	os.Chmod(filepath.Join(e.Dir, "www/cgi-bin/api"), 0o755)
	e.writeFile("srv/name.txt", "api answers by name\n")

	e.must("up", "-d")
	rows := e.byService(e.ps())
	for _, s := range []string{"web", "api", "worker"} {
		if rows[s].State != "running" {
			t.Fatalf("%s is %q", s, rows[s].State)
		}
	}
	if len(rows["web"].Publishers) != 1 {
		t.Fatalf("web publishes %+v", rows["web"].Publishers)
	}
	port := rows["web"].Publishers[0].PublishedPort
	body := httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/index.html", port))
	if body != "hello from web\n" {
		t.Errorf("through the published port: %q", body)
	}
	if body := httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/cgi-bin/api", port)); body != "api answers by name\n" {
		t.Errorf("web reaching api by name: %q", body)
	}
	e.eventually(10*time.Second, "worker's log line", func() bool {
		return strings.Contains(e.must("logs", "--no-color", "worker"), "worker started")
	})
	logs := e.must("logs", "--no-color")
	if !strings.Contains(logs, "api-1") || !strings.Contains(logs, "api ready") {
		t.Errorf("logs lack api's prefixed line:\n%s", logs)
	}
	// In a project, images lists its containers' images, as compose's does.
	var imgs []struct{ ContainerName, Service, Repository, ID string }
	if err := json.Unmarshal([]byte(e.must("images", "--format", "json")), &imgs); err != nil {
		t.Fatal(err)
	}
	if len(imgs) != 3 {
		t.Errorf("images lists %+v, want the three containers", imgs)
	}
	for _, i := range imgs {
		if i.Repository != "bb" || !strings.HasPrefix(i.ID, "sha256:") || !strings.HasPrefix(i.ContainerName, e.Project+"-"+i.Service+"-") {
			t.Errorf("images row %+v", i)
		}
	}
	if ids := strings.Fields(e.must("images", "-q", "web")); len(ids) != 1 {
		t.Errorf("images -q web: %v", ids)
	}
	e.must("down")
	if rows := e.ps(); len(rows) != 0 {
		t.Errorf("containers after down: %+v", rows)
	}
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	var last error
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		c := http.Client{Timeout: 2 * time.Second}
		resp, err := c.Get(url)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return string(b)
			}
			last = fmt.Errorf("status %d: %s", resp.StatusCode, b)
		} else {
			last = err
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("GET %s: %v", url, last)
	return ""
}

func TestChangedServiceRecreatedOthersKept(t *testing.T) {
	e := newEnv(t)
	e.importBusybox("bb", busybox.Options{})
	e.writeFile("compose.yaml", "services:\n  a:\n    image: bb\n    command: sleep 1000\n  b:\n    image: bb\n    command: sleep 1000\n")
	e.must("up", "-d")
	before := e.byService(e.ps())
	e.writeFile("compose.yaml", "services:\n  a:\n    image: bb\n    command: sleep 1000\n  b:\n    image: bb\n    command: sleep 1001\n")
	e.must("up", "-d")
	after := e.byService(e.ps())
	if after["a"].ID != before["a"].ID {
		t.Error("unchanged service a was recreated")
	}
	if after["b"].ID == before["b"].ID {
		t.Error("changed service b was not recreated")
	}
	if after["b"].Name != before["b"].Name || after["b"].State != "running" {
		t.Errorf("recreated b: %+v", after["b"])
	}
	// --force-recreate replaces both; a plain up again touches nothing.
	e.must("up", "-d")
	if again := e.byService(e.ps()); again["a"].ID != after["a"].ID || again["b"].ID != after["b"].ID {
		t.Error("up without changes recreated containers")
	}
	e.must("up", "-d", "--force-recreate")
	if forced := e.byService(e.ps()); forced["a"].ID == after["a"].ID {
		t.Error("--force-recreate kept a")
	}
	e.must("down", "-t", "1")
}

func TestOrphansRemoved(t *testing.T) {
	e := newEnv(t)
	e.importBusybox("bb", busybox.Options{})
	e.writeFile("compose.yaml", "services:\n  a:\n    image: bb\n    command: sleep 1000\n  old:\n    image: bb\n    command: sleep 1000\n")
	e.must("up", "-d")
	e.writeFile("compose.yaml", "services:\n  a:\n    image: bb\n    command: sleep 1000\n")
	e.must("up", "-d")
	if rows := e.byService(e.ps()); rows["old"].State != "running" {
		t.Fatalf("orphan removed without --remove-orphans: %+v", rows)
	}
	e.must("up", "-d", "--remove-orphans")
	if rows := e.byService(e.ps()); len(rows) != 1 || rows["a"].State != "running" {
		t.Errorf("after --remove-orphans: %+v", rows)
	}
	e.must("down", "-t", "1")
}

func TestDependsOnConditions(t *testing.T) {
	e := newEnv(t)
	e.importBusybox("bb", busybox.Options{})
	// migrate must finish before app starts; db must be healthy first.
	e.writeFile("compose.yaml", `
services:
  db:
    image: bb
    command: ["sh", "-c", "sleep 1; touch /tmp/ready; exec sleep 1000"]
    healthcheck:
      test: ["CMD", "test", "-f", "/tmp/ready"]
      interval: 200ms
      retries: 50
  migrate:
    image: bb
    command: ["sh", "-c", "date +%s%N; exit 0"]
    depends_on:
      db:
        condition: service_healthy
  app:
    image: bb
    command: ["sh", "-c", "date +%s%N; exec sleep 1000"]
    depends_on:
      migrate:
        condition: service_completed_successfully
`)
	e.must("up", "-d")
	rows := e.byService(e.ps())
	if rows["db"].Health != "healthy" || rows["migrate"].State != "exited" || rows["app"].State != "running" {
		t.Fatalf("states: %+v", rows)
	}
	mig := strings.TrimSpace(e.must("logs", "--no-log-prefix", "migrate"))
	app := strings.TrimSpace(e.must("logs", "--no-log-prefix", "app"))
	if mig == "" || app == "" || len(mig) != len(app) || app < mig {
		t.Errorf("app started at %s, before migrate finished at %s", app, mig)
	}
	e.must("down", "-t", "1")

	// A dependency that fails stops the chain with an error.
	e.writeFile("compose.yaml", `
services:
  migrate:
    image: bb
    command: ["sh", "-c", "exit 3"]
  app:
    image: bb
    command: sleep 1000
    depends_on:
      migrate:
        condition: service_completed_successfully
`)
	r := e.berth("up", "-d")
	if r.Code == 0 || !strings.Contains(r.Stderr, "migrate") {
		t.Errorf("up with a failing dependency: %d %s", r.Code, r.Stderr)
	}
	if rows := e.byService(e.ps()); rows["app"].ID != "" {
		t.Errorf("app was created despite the failed dependency")
	}
	e.must("down", "-t", "1")
}

func TestRunRmPassesExitCode(t *testing.T) {
	e := newEnv(t)
	e.importBusybox("bb", busybox.Options{})
	e.writeFile("compose.yaml", "services:\n  db:\n    image: bb\n    command: sleep 1000\n  tests:\n    image: bb\n    depends_on: [db]\n")
	for _, code := range []int{0, 7} {
		r := e.berth("run", "--rm", "-T", "tests", "sh", "-c", fmt.Sprintf("ping -c1 -W2 db >/dev/null && echo ran; exit %d", code))
		if r.Code != code || !strings.Contains(r.Stdout, "ran") {
			t.Errorf("run --rm exit %d: got %d, stdout %q stderr %q", code, r.Code, r.Stdout, r.Stderr)
		}
	}
	rows := e.ps()
	if len(rows) != 1 || rows[0].Service != "db" {
		t.Errorf("after run --rm: %+v", rows)
	}
	e.must("down", "-t", "1")
}

func TestAbortOnContainerExitPassesCode(t *testing.T) {
	e := newEnv(t)
	e.importBusybox("bb", busybox.Options{})
	e.writeFile("compose.yaml", "services:\n  server:\n    image: bb\n    command: sleep 1000\n  tests:\n    image: bb\n    command: [\"sh\", \"-c\", \"echo testing; sleep 0.3; exit 4\"]\n")
	r := e.berth("up", "--abort-on-container-exit", "--exit-code-from", "tests", "-t", "1")
	if r.Code != 4 {
		t.Errorf("exit code %d, want 4\n%s\n%s", r.Code, r.Stdout, r.Stderr)
	}
	if !strings.Contains(r.Stdout, "testing") {
		t.Errorf("attached output lacks the tests' line:\n%s", r.Stdout)
	}
	for _, row := range e.ps() {
		if row.State == "running" {
			t.Errorf("%s still running after abort", row.Name)
		}
	}
	e.must("down", "-t", "1")
}

func TestTwoProjectsSideBySide(t *testing.T) {
	e := newEnv(t)
	e.importBusybox("bb", busybox.Options{})
	e.writeFile("compose.yaml", "services:\n  s:\n    image: bb\n    command: sleep 1000\n")
	other := e.Project + "b"
	e.must("up", "-d")
	e.must("-p", other, "up", "-d")
	mine, theirs := e.ps(), e.ps2(other)
	if len(mine) != 1 || len(theirs) != 1 || mine[0].ID == theirs[0].ID {
		t.Fatalf("projects: %+v %+v", mine, theirs)
	}
	e.must("-p", other, "down", "-t", "1")
	if rows := e.ps(); len(rows) != 1 || rows[0].State != "running" {
		t.Errorf("the first project was disturbed: %+v", rows)
	}
	e.must("down", "-t", "1")
}

func (e *env) ps2(project string) []psRow {
	e.t.Helper()
	out := e.must("-p", project, "ps", "-a", "--format", "json")
	var rows []psRow
	json.Unmarshal([]byte(out), &rows)
	return rows
}

func TestBrokenComposeFileRejected(t *testing.T) {
	e := newEnv(t)
	e.importBusybox("bb", busybox.Options{})
	for _, tc := range []struct{ file, want string }{
		{"services:\n  web:\n    image: bb\n    ports: [\"80:80:80\"]\n  ok:\n    image: bb\n    command: sleep 1000\n", "web"},
		{"services:\n  web:\n    image: bb\n    restart: sometimes\n", `service "web": restart`},
		{"services:\n  a:\n    image: bb\n    depends_on: [b]\n  b:\n    image: bb\n    depends_on: [a]\n", "cycle"},
		{"services:\n  web:\n    image: bb\n    volumes_from: [nothere]\n", `service "web": volumes_from[0]`},
	} {
		e.writeFile("compose.yaml", tc.file)
		r := e.berth("up", "-d")
		if r.Code == 0 || !strings.Contains(r.Stderr, "compose.yaml") || !strings.Contains(r.Stderr, tc.want) {
			t.Errorf("broken file accepted or badly reported (exit %d): %s", r.Code, r.Stderr)
		}
		if ents, _ := os.ReadDir(filepath.Join(e.Root, "containers")); len(ents) > 1 {
			t.Errorf("containers created from a broken file: %v", ents)
		}
	}
}

func TestFigV1File(t *testing.T) {
	e := newEnv(t)
	e.importBusybox("bb", busybox.Options{})
	e.writeFile("fig.yml", `
db:
  image: bb
  command: ["sh", "-c", "exec httpd -f -p 5432"]
  environment:
    SECRET: s3
  expose: ["5432"]
web:
  image: bb
  command: sleep 1000
  links:
    - db
    - db:database
`)
	e.must("up", "-d")
	env := e.must("exec", "-T", "web", "env")
	for _, want := range []string{"DB_PORT=tcp://", "DB_PORT_5432_TCP_ADDR=", "DB_PORT_5432_TCP_PORT=5432", "DB_ENV_SECRET=s3", "DATABASE_PORT_5432_TCP_PROTO=tcp", "DB_1_PORT_5432_TCP_ADDR=", "DB_NAME=/"} {
		if !strings.Contains(env, want) {
			t.Errorf("web lacks %s in:\n%s", want, env)
		}
	}
	e.must("exec", "-T", "web", "ping", "-c1", "-W2", "database")
	e.must("down", "-t", "1")
}

func TestAttachedUpStopsOnInterrupt(t *testing.T) {
	e := newEnv(t)
	e.importBusybox("bb", busybox.Options{})
	e.writeFile("compose.yaml", "services:\n  talker:\n    image: bb\n    command: [\"sh\", \"-c\", \"echo talking; exec sleep 1000\"]\n")
	cmd := exec.Command(binary, "--root", e.Root, "--state", e.State, "-p", e.Project, "up", "-t", "1")
	cmd.Dir = e.Dir
	var out strings.Builder
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	e.eventually(15*time.Second, "the attached output", func() bool { return strings.Contains(out.String(), "talking") })
	if !strings.Contains(out.String(), "talker-1") {
		t.Errorf("no service prefix in %q", out.String())
	}
	cmd.Process.Signal(os.Interrupt)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		// Ctrl-C cancelled the command: 130, as docker compose's up.
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 130 {
			t.Errorf("attached up after Ctrl-C: %v, want exit status 130", err)
		}
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatal("attached up did not stop on Ctrl-C")
	}
	if rows := e.byService(e.ps()); rows["talker"].State != "exited" {
		t.Errorf("after Ctrl-C: %+v", rows)
	}
	// Without the compose file, -p NAME still takes what exists down.
	os.Remove(filepath.Join(e.Dir, "compose.yaml"))
	e.must("-p", e.Project, "down")
	if ents, _ := os.ReadDir(filepath.Join(e.Root, "containers")); len(ents) > 1 {
		t.Errorf("down -p without a file left %v", ents)
	}
}
