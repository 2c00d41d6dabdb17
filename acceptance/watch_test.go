package acceptance

import (
	"bytes"
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

// interrupt sends Ctrl-C's SIGINT and waits for berth to exit.
func (b *bgBerth) interrupt() error {
	b.t.Helper()
	b.cmd.Process.Signal(syscall.SIGINT)
	select {
	case err := <-b.done:
		b.done <- err
		return err
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
		got = e.inContainer(service, n, script)
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
