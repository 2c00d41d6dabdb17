package watch

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// rig runs a Watcher over a temp tree and gathers what it reports.
type rig struct {
	t    *testing.T
	dir  string
	w    *Watcher
	mu   sync.Mutex
	got  []Batch
	done chan error
}

func newRig(t *testing.T, dir string, rules ...Rule) *rig {
	t.Helper()
	return newRigTiming(t, dir, Timing{Quiet: 5 * time.Millisecond, BurstQuiet: 50 * time.Millisecond, BurstPaths: 8, MaxWait: time.Second}, rules...)
}

func newRigTiming(t *testing.T, dir string, timing Timing, rules ...Rule) *rig {
	t.Helper()
	w, err := New(rules, Options{Timing: timing})
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, dir: dir, w: w, done: make(chan error, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		r.done <- w.Run(ctx, func(b Batch) {
			r.mu.Lock()
			r.got = append(r.got, b)
			r.mu.Unlock()
		})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-r.done; err != nil {
			t.Errorf("Run: %v", err)
		}
		w.Close()
	})
	return r
}

// paths is every path reported so far, relative to the tree.
func (r *rig) paths() map[string]bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]bool{}
	for _, b := range r.got {
		for _, c := range b.Changes {
			rel, _ := filepath.Rel(r.dir, c.Path)
			out[rel] = true
		}
	}
	return out
}

// waitFor polls until every path in want has been reported.
func (r *rig) waitFor(want ...string) {
	r.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := r.paths()
		missing := ""
		for _, w := range want {
			if !got[w] {
				missing = w
			}
		}
		if missing == "" {
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("%s never reported; got %v", missing, got)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (r *rig) reset() {
	r.mu.Lock()
	r.got = nil
	r.mu.Unlock()
}

func write(t *testing.T, p, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestWatcherReportsEditsNewDirectoriesDeletesAndRenames(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "main.go"), "package main\n")
	write(t, filepath.Join(dir, "old", "x.txt"), "x")
	r := newRig(t, dir, Rule{Path: dir})

	write(t, filepath.Join(dir, "main.go"), "package main // edited\n")
	r.waitFor("main.go")

	// mkdir -p a/b/c && touch a/b/c/f: the inner directories exist
	// before their parent's watch can be added.
	if err := exec.Command("sh", "-c", "mkdir -p a/b/c && touch a/b/c/f").Run(); err != nil {
		if err := os.MkdirAll(filepath.Join(dir, "a/b/c"), 0o755); err != nil {
			t.Fatal(err)
		}
		write(t, filepath.Join(dir, "a/b/c/f"), "")
	}
	write(t, filepath.Join(dir, "a/b/c/f"), "f")
	r.waitFor("a/b/c/f")
	// The new directories are watched: a later file in them is seen.
	write(t, filepath.Join(dir, "a/b/c/g"), "g")
	r.waitFor("a/b/c/g")

	os.Remove(filepath.Join(dir, "main.go"))
	r.waitFor("main.go")

	r.reset()
	if err := os.Rename(filepath.Join(dir, "old"), filepath.Join(dir, "new")); err != nil {
		t.Fatal(err)
	}
	r.waitFor("old", "new", "new/x.txt")
	// The moved directory reports under its new name only.
	r.reset()
	write(t, filepath.Join(dir, "new", "y.txt"), "y")
	r.waitFor("new/y.txt")
	if r.paths()["old/y.txt"] {
		t.Error("a file in a moved directory was reported under the old name")
	}
}

func TestWatcherIgnoredTreesAreNotWatched(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"src/lib", "node_modules/a/b", "node_modules/c", ".git/objects/00", "build/out"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write(t, filepath.Join(dir, ".dockerignore"), "build\n**/*.log\n")
	ignore, err := NewMatcher(dir, []string{"node_modules/"})
	if err != nil {
		t.Fatal(err)
	}
	di, err := LoadDockerignore(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	r := newRig(t, dir, Rule{Path: dir, Ignore: []*Matcher{ignore, di}})
	// dir, src, src/lib: node_modules, .git and build cost nothing.
	if n := r.w.Watches(); n != 3 {
		t.Errorf("%d watches, want 3 (the root, src, src/lib)", n)
	}
	for _, p := range []string{"node_modules/a/b/x.js", ".git/HEAD", "build/out/app", "src/debug.log",
		"src/.main.go.swp", "src/main.go~", "src/4913", "src/.#main.go", "node_modules/new/y.js"} {
		write(t, filepath.Join(dir, p), "ignored")
	}
	write(t, filepath.Join(dir, "src/lib/done"), "marker")
	r.waitFor("src/lib/done")
	for p := range r.paths() {
		if p != "src/lib/done" {
			t.Errorf("ignored path reported: %s", p)
		}
	}
	if n := r.w.Watches(); n != 3 {
		t.Errorf("%d watches after writes into ignored trees, want 3", n)
	}
}

func TestWatcherIncludeAndFileRule(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "package.json"), "{}")
	write(t, filepath.Join(dir, "src/a.js"), "a")
	include, err := NewMatcher(filepath.Join(dir, "src"), []string{"*.js"})
	if err != nil {
		t.Fatal(err)
	}
	r := newRig(t, dir,
		Rule{Path: filepath.Join(dir, "src"), Include: include},
		Rule{Path: filepath.Join(dir, "package.json")})
	write(t, filepath.Join(dir, "src/b.css"), "css")
	write(t, filepath.Join(dir, "other.txt"), "other")
	write(t, filepath.Join(dir, "src/b.js"), "b")
	write(t, filepath.Join(dir, "package.json"), `{"a":1}`)
	r.waitFor("src/b.js", "package.json")
	for p := range r.paths() {
		if p != "src/b.js" && p != "package.json" {
			t.Errorf("path outside include or the file rule reported: %s", p)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, b := range r.got {
		for _, c := range b.Changes {
			if strings.HasSuffix(c.Path, "package.json") && c.Rule != 1 || strings.HasSuffix(c.Path, "b.js") && c.Rule != 0 {
				t.Errorf("change %+v under the wrong rule", c)
			}
		}
	}
}

func TestWatcherBurstIsOneBatch(t *testing.T) {
	dir := t.TempDir()
	// As for a rebuild rule, with the default timing.
	r := newRigTiming(t, dir, DefaultTiming, Rule{Path: dir, Quiet: 200 * time.Millisecond})
	var want []string
	for i := 0; i < 500; i++ {
		p := filepath.Join("d", string(rune('a'+i%20)), "f"+strings.Repeat("x", i%7)+string(rune('0'+i%10))+"-"+time.Now().Format("150405.000000000"))
		write(t, filepath.Join(dir, p), "x")
		want = append(want, p)
	}
	r.waitFor(want...)
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.got) != 1 {
		t.Errorf("a burst of 500 files came as %d batches, want 1", len(r.got))
	}
}

func TestWatcherRescanFindsWhatEventsMissed(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "keep"), "same")
	write(t, filepath.Join(dir, "edit"), "before")
	write(t, filepath.Join(dir, "gone/inner"), "x")
	w, err := New([]Rule{{Path: dir}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	// Nothing reads the events: as if the kernel had dropped them all.
	write(t, filepath.Join(dir, "edit"), "after, longer")
	write(t, filepath.Join(dir, "new/deep/file"), "n")
	os.RemoveAll(filepath.Join(dir, "gone"))
	changes, err := w.scan()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, c := range changes {
		rel, _ := filepath.Rel(dir, c.Path)
		got[rel] = true
	}
	for _, p := range []string{"edit", "new", "new/deep", "new/deep/file", "gone", "gone/inner"} {
		if !got[p] {
			t.Errorf("rescan missed %s (got %v)", p, got)
		}
	}
	if got["keep"] {
		t.Error("rescan reported an unchanged file")
	}
	if !w.watched(filepath.Join(dir, "new/deep")) || w.watched(filepath.Join(dir, "gone")) {
		t.Error("rescan did not bring the watches up to date")
	}
}

// TestWatchLimitNamesSysctl runs the watcher in a user namespace whose
// inotify watch limit is 3, so the kernel refuses the fourth directory.
func TestWatchLimitNamesSysctl(t *testing.T) {
	if os.Getenv("WATCH_LIMIT_CHILD") == "1" {
		watchLimitChild()
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestWatchLimitNamesSysctl$", "-test.v")
	cmd.Env = append(os.Environ(), "WATCH_LIMIT_CHILD=1", "WATCH_LIMIT_DIR="+t.TempDir())
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}},
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		if strings.Contains(string(out), "userns unavailable") || errors.Is(err, syscall.EPERM) {
			t.Skipf("no user namespaces here: %v", err)
		}
		t.Fatalf("child: %v\n%s", err, out)
	}
	s := string(out)
	if !strings.Contains(s, "LIMIT-ERROR: ") {
		t.Fatalf("child did not report a limit error:\n%s", s)
	}
	msg := s[strings.Index(s, "LIMIT-ERROR: "):]
	global := strings.TrimSpace(readFile(t, "/proc/sys/fs/inotify/max_user_watches"))
	for _, want := range []string{"fs.inotify.max_user_watches is " + global, "sysctl -w fs.inotify.max_user_watches=", "allows only 3"} {
		if !strings.Contains(msg, want) {
			t.Errorf("limit error %q does not say %q", msg, want)
		}
	}
}

func readFile(t *testing.T, p string) string {
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func watchLimitChild() {
	if err := os.WriteFile("/proc/sys/user/max_inotify_watches", []byte("3"), 0); err != nil {
		println("userns unavailable:", err.Error())
		os.Exit(1)
	}
	dir := os.Getenv("WATCH_LIMIT_DIR")
	for _, d := range []string{"a", "b", "c", "d", "e"} {
		os.MkdirAll(filepath.Join(dir, d), 0o755)
	}
	_, err := New([]Rule{{Path: dir}}, Options{})
	var le *LimitError
	if !errors.As(err, &le) || !errors.Is(err, ErrWatchLimit) {
		println("no LimitError:", err)
		os.Exit(1)
	}
	println("LIMIT-ERROR: " + err.Error())
}
