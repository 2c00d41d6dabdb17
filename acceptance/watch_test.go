package acceptance

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/busybox"
)

// syncBuffer is an output buffer safe to read while a process writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// bgBerth is a berth command running in the background (watch, up).
type bgBerth struct {
	t    *testing.T
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan error
}

// start runs berth in the background; the test ends it with stop.
func (e *env) start(args ...string) *bgBerth {
	e.t.Helper()
	full := append([]string{"--root", e.Root, "--state", e.State}, args...)
	cmd := exec.Command(binary, full...)
	cmd.Dir = e.Dir
	cmd.Env = append(append(os.Environ(), "COMPOSE_PROJECT_NAME="+e.Project), e.Env...)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	b := &bgBerth{t: e.t, cmd: cmd, out: out, done: make(chan error, 1)}
	go func() { b.done <- cmd.Wait() }()
	e.t.Cleanup(func() {
		if e.t.Failed() {
			e.t.Logf("berth %s printed:\n%s", strings.Join(args, " "), out.String())
		}
		select {
		case <-b.done:
		default:
			cmd.Process.Kill()
			<-b.done
		}
	})
	return b
}

// waitOutput polls until the output holds s (count times).
func (b *bgBerth) waitOutput(s string, count int, d time.Duration) {
	b.t.Helper()
	deadline := time.Now().Add(d)
	for strings.Count(b.out.String(), s) < count {
		select {
		case err := <-b.done:
			b.done <- err
			b.t.Fatalf("berth exited (%v) before printing %q:\n%s", err, s, b.out.String())
		default:
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("no %q after %s:\n%s", s, d, b.out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// interrupt sends Ctrl-C's SIGINT and waits for berth to exit. A command
// that Ctrl-C ended exits 130, as docker compose's do; interrupt reports
// any other ending as an error.
func (b *bgBerth) interrupt() error {
	b.t.Helper()
	b.cmd.Process.Signal(syscall.SIGINT)
	select {
	case err := <-b.done:
		b.done <- err
		var ee *exec.ExitError
		if errors.As(err, &ee) && ee.ExitCode() == 130 {
			return nil
		}
		return fmt.Errorf("exit %v after Ctrl-C, want exit status 130", err)
	case <-time.After(60 * time.Second):
		b.t.Fatalf("berth did not exit within 60 s of SIGINT:\n%s", b.out.String())
	}
	return nil
}

// inotifyWatches counts the inotify watches a process holds, as the
// kernel lists them in /proc/PID/fdinfo.
func inotifyWatches(t *testing.T, pid int) int {
	t.Helper()
	fds, _ := filepath.Glob(fmt.Sprintf("/proc/%d/fdinfo/*", pid))
	n := 0
	for _, fd := range fds {
		b, _ := os.ReadFile(fd)
		n += strings.Count(string(b), "inotify wd:")
	}
	return n
}

// inContainer runs a shell script in a service's container (replica n).
func (e *env) inContainer(service string, n int, script string) string {
	e.t.Helper()
	r := e.berth("exec", "-T", "--index", strconv.Itoa(n), service, "sh", "-c", script)
	if r.Code != 0 {
		e.t.Fatalf("exec in %s-%d: exit %d: %s", service, n, r.Code, r.Stderr)
	}
	return r.Stdout
}

// eventuallyIn polls a script in the container until its output is want.
func (e *env) eventuallyIn(service string, n int, script, want string) {
	e.t.Helper()
	var got string
	deadline := time.Now().Add(30 * time.Second)
	for {
		// A file not there yet makes the script fail: poll on.
		got = e.berth("exec", "-T", "--index", strconv.Itoa(n), service, "sh", "-c", script).Stdout
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("in %s-%d, `%s` printed %q, want %q", service, n, script, got, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (e *env) removePath(name string) {
	e.t.Helper()
	if err := os.RemoveAll(filepath.Join(e.Dir, name)); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) rename(from, to string) {
	e.t.Helper()
	if err := os.Rename(filepath.Join(e.Dir, from), filepath.Join(e.Dir, to)); err != nil {
		e.t.Fatal(err)
	}
}

const syncCompose = `services:
  app:
    build: ./app
    image: wt/app
    user: app
    scale: 2
    command: ["sh", "-c", "exec 3< /app/src/held.txt; exec sleep 100000"]
    develop:
      watch:
        - action: sync
          path: ./app/src
          target: /app/src
          ignore:
            - node_modules/
            - "*.tmp"
        - action: sync
          path: ./app/conf
          target: /app/conf
          include: ["*.conf"]
          initial_sync: true
`

// TestWatchSync covers the sync action on a scaled service: an edit, a
// file in new nested directories, a delete and renames reach every
// replica; owner and mode are the service user's and the host file's;
// the replacement is atomic (a reader holding the old file keeps it);
// ignored patterns, .dockerignore'd files, .git and editor files never
// arrive and an ignored node_modules costs no inotify watch; include
// and initial_sync work.
func TestWatchSync(t *testing.T) {
	e := newEnv(t)
	e.importBusybox("bb", busybox.Options{})
	e.writeFile("app/Dockerfile", "FROM bb\nRUN mkdir -p /app && chown app:app /app\nCOPY --chown=app:app src /app/src\nCOPY --chown=app:app conf /app/conf\n")
	e.writeFile("app/.dockerignore", "**/*.secret\n")
	e.writeFile("app/src/index.html", "v1\n")
	e.writeFile("app/src/held.txt", "old content\n")
	e.writeFile("app/src/gone.txt", "to be deleted\n")
	e.writeFile("app/src/old.txt", "renamed file\n")
	e.writeFile("app/src/olddir/inner.txt", "renamed dir\n")
	e.writeFile("app/conf/a.conf", "a=1\n")
	for i := 0; i < 200; i++ {
		e.writeFile(fmt.Sprintf("app/src/node_modules/pkg%03d/lib/index.js", i), "x")
	}
	e.writeFile("compose.yaml", syncCompose)
	e.must("up", "-d", "--build")
	// Changed while nothing watched: initial_sync brings it over.
	e.writeFile("app/conf/a.conf", "a=2\n")

	w := e.start("watch", "--no-up")
	w.waitOutput("Watch enabled", 1, 60*time.Second)
	for n := 1; n <= 2; n++ {
		e.eventuallyIn("app", n, "cat /app/conf/a.conf", "a=2\n")
	}

	// An edit reaches both replicas; the held old file is untouched.
	e.writeFile("app/src/held.txt", "new content\n")
	e.writeFile("app/src/index.html", "v2\n")
	for n := 1; n <= 2; n++ {
		e.eventuallyIn("app", n, "cat /app/src/index.html", "v2\n")
		e.eventuallyIn("app", n, "cat /app/src/held.txt; cat /proc/1/fd/3", "new content\nold content\n")
	}

	// mkdir -p a/b/c && touch a/b/c/f, with a mode and the user's owner.
	if err := os.MkdirAll(filepath.Join(e.Dir, "app/src/a/b/c"), 0o755); err != nil {
		t.Fatal(err)
	}
	e.writeFile("app/src/a/b/c/f", "deep\n")
	e.writeFile("app/src/run.sh", "#!/bin/sh\n")
	if err := os.Chmod(filepath.Join(e.Dir, "app/src/run.sh"), 0o750); err != nil {
		t.Fatal(err)
	}
	for n := 1; n <= 2; n++ {
		e.eventuallyIn("app", n, "cat /app/src/a/b/c/f; stat -c '%u:%g %a' /app/src/a/b/c /app/src/a/b/c/f /app/src/run.sh",
			"deep\n1000:1000 755\n1000:1000 644\n1000:1000 750\n")
	}

	// Deletes and renames are mirrored.
	e.removePath("app/src/gone.txt")
	e.rename("app/src/old.txt", "app/src/new.txt")
	e.rename("app/src/olddir", "app/src/newdir")
	for n := 1; n <= 2; n++ {
		e.eventuallyIn("app", n, "ls /app/src/gone.txt /app/src/old.txt /app/src/olddir 2>/dev/null; cat /app/src/new.txt /app/src/newdir/inner.txt",
			"renamed file\nrenamed dir\n")
	}

	// Ignored paths never arrive; the marker written after them does.
	ignored := []string{"src/node_modules/pkg000/new.js", "src/skip.tmp", "src/key.secret", "src/.git/HEAD",
		"src/.index.html.swp", "src/index.html~", "src/4913", "src/.#index.html", "conf/notes.txt"}
	for _, p := range ignored {
		e.writeFile("app/"+p, "must not arrive\n")
	}
	e.writeFile("app/conf/b.conf", "marker\n")
	for n := 1; n <= 2; n++ {
		e.eventuallyIn("app", n, "cat /app/conf/b.conf", "marker\n")
		for _, p := range ignored {
			if out := e.inContainer("app", n, "cat /app/"+p+" 2>/dev/null || true"); out != "" {
				t.Errorf("ignored %s arrived in app-%d", p, n)
			}
		}
	}

	// node_modules (200 packages) and .git cost no watch: one watch per
	// directory that is not ignored.
	dirs := 0
	for _, top := range []string{"app/src", "app/conf"} {
		filepath.WalkDir(filepath.Join(e.Dir, top), func(p string, d os.DirEntry, err error) error {
			if d.IsDir() {
				if d.Name() == "node_modules" || d.Name() == ".git" {
					return filepath.SkipDir
				}
				dirs++
			}
			return nil
		})
	}
	if got := inotifyWatches(t, w.cmd.Process.Pid); got != dirs {
		t.Errorf("berth watch holds %d inotify watches, want %d (the directories not ignored)", got, dirs)
	}
	if err := w.interrupt(); err != nil {
		t.Errorf("watch after Ctrl-C: %v\n%s", err, w.out.String())
	}
	// watch leaves the stack running, as it found it.
	if rows := e.ps(); len(rows) != 2 {
		t.Errorf("after watch, %d containers running, want 2", len(rows))
	}
}

const actionsCompose = `services:
  web:
    build: ./web
    image: wt/web
    command: ["sh", "-c", "echo start >> /state/web-starts; exec sleep 100000"]
    volumes: ["./state:/state"]
    develop:
      watch:
        - action: rebuild
          path: ./web
  dep:
    image: bb
    command: ["sh", "-c", "echo start >> /state/dep-starts; exec sleep 100000"]
    volumes: ["./state:/state"]
    depends_on:
      web: {condition: service_started, restart: true}
  other:
    image: bb
    command: ["sleep", "100000"]
    depends_on: [web]
  rs:
    image: bb
    command: ["sh", "-c", "echo start >> /state/rs-starts; exec sleep 100000"]
    volumes: ["./state:/state"]
    develop:
      watch:
        - action: restart
          path: ./rs.txt
        - action: sync+restart
          path: ./sr
          target: /sr
  ex:
    image: bb
    user: app
    command: ["sleep", "100000"]
    develop:
      watch:
        - action: sync+exec
          path: ./ex
          target: /tmp/ex
          exec:
            command: ["sh", "-c", "echo $(id -u) $(pwd) $$GREETING > /tmp/exec-out"]
            user: root
            working_dir: /tmp/ex
            environment:
              GREETING: hello
`

// lines counts the lines of a file under the project directory.
func (e *env) lines(name string) int {
	b, _ := os.ReadFile(filepath.Join(e.Dir, name))
	return strings.Count(string(b), "\n")
}

func (e *env) eventuallyLines(name string, n int) {
	e.t.Helper()
	e.eventually(60*time.Second, fmt.Sprintf("%d lines in %s", n, name), func() bool { return e.lines(name) >= n })
	if got := e.lines(name); got != n {
		e.t.Fatalf("%s has %d lines, want %d", name, got, n)
	}
}

func (e *env) containerIDs() map[string]string {
	out := map[string]string{}
	for _, r := range e.ps() {
		out[r.Service] = r.ID
	}
	return out
}

// TestWatchActions covers rebuild (with the step cache, recreating only
// the service and what depends on it with restart: true; a failed build
// keeps the running container; a 5,000-file burst is one rebuild),
// restart, sync+restart and sync+exec with its exec keys.
func TestWatchActions(t *testing.T) {
	e := newEnv(t)
	e.importBusybox("bb", busybox.Options{})
	e.writeFile("web/Dockerfile", "FROM bb\nRUN echo base > /base\nCOPY . /srv\n")
	e.writeFile("web/index.txt", "v1\n")
	e.writeFile("rs.txt", "0\n")
	e.writeFile("sr/file", "s1\n")
	e.writeFile("ex/f", "e1\n")
	if err := os.MkdirAll(filepath.Join(e.Dir, "state"), 0o777); err != nil {
		t.Fatal(err)
	}
	e.writeFile("compose.yaml", actionsCompose)
	w := e.start("watch")
	w.waitOutput("Watch enabled", 1, 120*time.Second)
	e.eventuallyLines("state/web-starts", 1)
	before := e.containerIDs()

	// rebuild: the new file is in the new image; dep (restart: true) is
	// restarted, as up restarts it, other (a plain depends_on) is not.
	e.writeFile("web/index.txt", "v2\n")
	e.eventuallyLines("state/web-starts", 2)
	e.eventuallyIn("web", 1, "cat /srv/index.txt", "v2\n")
	w.waitOutput(`recreated "web"; restarted "dep"`, 1, 60*time.Second)
	e.eventuallyLines("state/dep-starts", 2)
	after := e.containerIDs()
	if after["web"] == before["web"] {
		t.Errorf("web was not recreated: %v -> %v", before, after)
	}
	if after["dep"] != before["dep"] {
		t.Errorf("dep was recreated; compose restarts it: %v -> %v", before, after)
	}
	if after["other"] != before["other"] || after["rs"] != before["rs"] {
		t.Errorf("services that do not depend on web with restart: true were recreated: %v -> %v", before, after)
	}

	// A failed build is reported and the running container kept.
	e.writeFile("web/Dockerfile", "FROM bb\nRUN exit 3\n")
	w.waitOutput(`Build of service "web" failed`, 1, 60*time.Second)
	if now := e.containerIDs(); now["web"] != after["web"] {
		t.Errorf("a failed build replaced web's container")
	}
	e.eventuallyIn("web", 1, "cat /srv/index.txt", "v2\n")
	// Fixed again: the step cache gives back the image web runs, so
	// nothing is recreated.
	e.writeFile("web/Dockerfile", "FROM bb\nRUN echo base > /base\nCOPY . /srv\n")
	w.waitOutput(`service "web" is unchanged`, 1, 60*time.Second)
	if now := e.containerIDs(); now["web"] != after["web"] {
		t.Errorf("a rebuild to the same image replaced web's container")
	}

	// 5,000 files at once (a branch switch) is one rebuild: the starts
	// go up by one, and the marker written after that rebuild by one
	// more.
	for i := 0; i < 5000; i++ {
		e.writeFile(fmt.Sprintf("web/burst/d%02d/f%04d", i%50, i), "x")
	}
	e.eventuallyLines("state/web-starts", 3)
	e.eventuallyIn("web", 1, "ls /srv/burst/*/* | wc -l", "5000\n")
	w.waitOutput(`recreated "web"; restarted "dep"`, 2, 60*time.Second)
	e.writeFile("web/marker", "m\n")
	e.eventuallyIn("web", 1, "cat /srv/marker 2>/dev/null", "m\n")
	e.eventuallyLines("state/web-starts", 4)
	if n := strings.Count(w.out.String(), `Rebuilding service "web"`); n != 5 {
		t.Errorf("%d rebuilds, want 5 (v2, the failed one, the fix, the burst, the marker)", n)
	}

	// restart: the container runs its command again.
	e.eventuallyLines("state/rs-starts", 1)
	e.writeFile("rs.txt", "1\n")
	e.eventuallyLines("state/rs-starts", 2)
	// sync+restart: the file is there, then the container restarts.
	e.writeFile("sr/file", "s2\n")
	e.eventuallyLines("state/rs-starts", 3)
	e.eventuallyIn("rs", 1, "cat /sr/file 2>/dev/null", "s2\n")

	// sync+exec: the file is synced, then the command runs as its user,
	// in its working directory, with its environment.
	e.writeFile("ex/f", "e2\n")
	e.eventuallyIn("ex", 1, "cat /tmp/ex/f /tmp/exec-out 2>/dev/null", "e2\n0 /tmp/ex hello\n")

	if err := w.interrupt(); err != nil {
		t.Errorf("watch after Ctrl-C: %v\n%s", err, w.out.String())
	}
}

const plainSyncCompose = `services:
  app:
    image: bb
    command: ["sleep", "100000"]
    develop:
      watch:
        - action: sync
          path: ./src
          target: /app
`

// TestWatchOverflowRescanConverges gives the watch an inotify queue of 16
// events and stops it while 600 changes are made: the kernel drops
// events, and the rescan still brings the container to the host's tree.
func TestWatchOverflowRescanConverges(t *testing.T) {
	e := newEnv(t)
	e.importBusybox("bb", busybox.Options{})
	for i := 0; i < 100; i++ {
		e.writeFile(fmt.Sprintf("src/old/f%03d", i), "old\n")
	}
	e.writeFile("compose.yaml", plainSyncCompose)
	e.must("up", "-d")
	e.writeFile("src/first", "1\n") // before the watch: initial state
	e.eventually(5*time.Second, "nothing", func() bool { return true })

	// The queue length is read when an inotify instance is made: lower
	// it for as long as berth takes to start watching, then restore it.
	const sysctl = "/proc/sys/fs/inotify/max_queued_events"
	orig, err := os.ReadFile(sysctl)
	if err != nil {
		t.Fatal(err)
	}
	restore := func() { os.WriteFile(sysctl, orig, 0o644) }
	t.Cleanup(restore)
	if err := os.WriteFile(sysctl, []byte("16"), 0o644); err != nil {
		t.Fatal(err)
	}
	w := e.start("watch", "--no-up")
	w.waitOutput("Watch enabled", 1, 60*time.Second)
	restore()

	w.cmd.Process.Signal(syscall.SIGSTOP)
	for i := 0; i < 300; i++ {
		e.writeFile(fmt.Sprintf("src/new/d%02d/f%03d", i%10, i), fmt.Sprintf("new %d\n", i))
	}
	for i := 0; i < 100; i += 2 {
		e.removePath(fmt.Sprintf("src/old/f%03d", i))
	}
	e.rename("src/old", "src/moved")
	w.cmd.Process.Signal(syscall.SIGCONT)

	w.waitOutput("rescanned the tree", 1, 60*time.Second)
	// The container's /app is the host's src/: 300 new files, 50 moved
	// ones, nothing of old/.
	e.eventuallyIn("app", 1, "ls /app/new/*/* | wc -l; ls /app/moved | wc -l; ls /app/old 2>/dev/null | wc -l; cat /app/new/d07/f297", "300\n50\n0\nnew 297\n")
	if err := w.interrupt(); err != nil {
		t.Errorf("watch after Ctrl-C: %v", err)
	}
}

// TestUpWatchCtrlC: up --watch streams logs and watch lines together; a
// change is synced; Ctrl-C stops the stack as up does and leaves no
// berth process of the project behind.
func TestUpWatchCtrlC(t *testing.T) {
	e := newEnv(t)
	e.importBusybox("bb", busybox.Options{})
	e.writeFile("src/index", "1\n")
	e.writeFile("compose.yaml", `services:
  app:
    image: bb
    command: ["sh", "-c", "echo hello from app; exec sleep 100000"]
    develop:
      watch:
        - action: sync
          path: ./src
          target: /app
`)
	up := e.start("up", "--watch")
	up.waitOutput("Watch enabled", 1, 60*time.Second)
	up.waitOutput("hello from app", 1, 30*time.Second)
	e.writeFile("src/index", "2\n")
	e.eventuallyIn("app", 1, "cat /app/index 2>/dev/null", "2\n")
	up.waitOutput("Syncing service \"app\"", 1, 30*time.Second)
	if err := up.interrupt(); err != nil {
		t.Errorf("up --watch after Ctrl-C: %v\n%s", err, up.out.String())
	}
	// As after `up` and Ctrl-C: the container is there, stopped.
	rows := e.ps("-a")
	if len(rows) != 1 || rows[0].State != "exited" {
		t.Errorf("after Ctrl-C, containers %+v, want app stopped", rows)
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, _ := os.ReadFile(p)
		if bytes.Contains(b, []byte(e.Root)) {
			t.Errorf("process left after up --watch: %s %q", p, bytes.ReplaceAll(b, []byte{0}, []byte{' '}))
		}
	}
}

// TestWatchWithoutRulesShowsMinimalRule: no develop.watch is an error
// that shows a rule to add, before anything is created.
func TestWatchWithoutRulesShowsMinimalRule(t *testing.T) {
	e := newEnv(t)
	e.importBusybox("bb", busybox.Options{})
	e.writeFile("compose.yaml", "services:\n  api:\n    image: bb\n    command: [\"sleep\", \"100000\"]\n")
	for _, args := range [][]string{{"watch"}, {"up", "--watch"}} {
		r := e.berth(args...)
		if r.Code != 1 {
			t.Errorf("berth %v: exit %d, want 1", args, r.Code)
		}
		for _, want := range []string{"develop.watch", "  api:\n    develop:\n      watch:\n        - action: sync\n          path: ./src\n          target: /app/src"} {
			if !strings.Contains(r.Stderr, want) {
				t.Errorf("berth %v said %q, missing %q", args, r.Stderr, want)
			}
		}
	}
	if rows := e.ps("-a"); len(rows) != 0 {
		t.Errorf("containers were created: %+v", rows)
	}
}

// TestWatchSyncStaysInContainer: the container plants symlinks where the
// sync writes (a directory, a file, a parent of the target, absolute and
// relative) pointing at a path that is a host directory; every write and
// delete stays inside the container, following the links as the
// container sees them.
func TestWatchSyncStaysInContainer(t *testing.T) {
	e := newEnv(t)
	e.importBusybox("bb", busybox.Options{})
	host := t.TempDir() // a host directory the container must never reach
	e.writeFile("src/evil/pwned", "x\n")
	e.writeFile("src/link.txt", "x\n")
	e.writeFile("src/up/pwned2", "x\n")
	e.writeFile("sub/pwned", "x\n")
	if err := os.WriteFile(filepath.Join(host, "target.txt"), []byte("host file\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dots := strings.Repeat("../", 12)
	e.writeFile("compose.yaml", fmt.Sprintf(`services:
  app:
    image: bb
    command: ["sh", "-c", "mkdir -p /app/src %[1]s; echo container file > %[1]s/target.txt; rm -rf /app/src/evil /app/src/up /app/sub; ln -s %[1]s /app/src/evil; ln -s %[1]s/target.txt /app/src/link.txt; ln -s %[2]s%[1]s /app/src/up; ln -s %[1]s /app/sub; touch /ready; exec sleep 100000"]
    develop:
      watch:
        - action: sync
          path: ./src
          target: /app/src
        - action: sync
          path: ./sub
          target: /app/sub/deeper
`, host, dots))
	e.must("up", "-d")
	e.eventuallyIn("app", 1, "ls /ready 2>/dev/null", "/ready\n")
	w := e.start("watch", "--no-up")
	w.waitOutput("Watch enabled", 1, 60*time.Second)
	e.writeFile("src/evil/pwned", "through a directory link\n")
	e.writeFile("src/link.txt", "through a file link\n")
	e.writeFile("src/up/pwned2", "through a relative link\n")
	e.writeFile("sub/pwned", "through a parent link\n")
	// The links are followed as the container sees them: into the
	// container's own directory of that name; a link where a file goes
	// is replaced, its target left alone.
	e.eventuallyIn("app", 1, fmt.Sprintf("cat %[1]s/pwned %[1]s/pwned2 %[1]s/deeper/pwned /app/src/link.txt %[1]s/target.txt 2>/dev/null; test -L /app/src/link.txt || echo replaced", host),
		"through a directory link\nthrough a relative link\nthrough a parent link\nthrough a file link\ncontainer file\nreplaced\n")
	ents, _ := os.ReadDir(host)
	if len(ents) != 1 {
		var names []string
		for _, en := range ents {
			names = append(names, en.Name())
		}
		t.Errorf("the sync wrote into the host directory: %v", names)
	}
	if b, _ := os.ReadFile(filepath.Join(host, "target.txt")); string(b) != "host file\n" {
		t.Errorf("the host file behind a planted link was overwritten: %q", b)
	}
	// Deletes resolve the same way: the link goes, and what went through
	// it went inside the container; the host's directory keeps its file.
	e.removePath("src/evil")
	e.eventuallyIn("app", 1, fmt.Sprintf("ls -d /app/src/evil 2>/dev/null; ls -d %s", host), host+"\n")
	if _, err := os.Stat(filepath.Join(host, "target.txt")); err != nil {
		t.Errorf("a delete reached the host: %v", err)
	}
	w.interrupt()
}
