package bench

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// watchProc is `berth watch` running in the background.
type watchProc struct {
	cmd *exec.Cmd
	mu  sync.Mutex
	out bytes.Buffer
}

func startWatch(t *testing.T, dir, root, state, project string) *watchProc {
	t.Helper()
	w := &watchProc{}
	w.cmd = exec.Command(os.Getenv("BERTH_BINARY"), "--root", root, "--state", state, "-p", project, "--progress", "quiet", "watch", "--no-up", "--quiet")
	w.cmd.Dir = dir
	pr, pw := io.Pipe()
	w.cmd.Stdout, w.cmd.Stderr = pw, pw
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(pr)
		once := sync.Once{}
		for sc.Scan() {
			w.mu.Lock()
			w.out.WriteString(sc.Text() + "\n")
			w.mu.Unlock()
			if strings.Contains(sc.Text(), "Watch enabled") {
				once.Do(func() { close(ready) })
			}
		}
	}()
	if err := w.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		w.cmd.Process.Signal(os.Interrupt)
		w.cmd.Wait()
		pw.Close()
	})
	select {
	case <-ready:
	case <-time.After(2 * time.Minute):
		t.Fatalf("berth watch never got ready:\n%s", w.out.String())
	}
	return w
}

// containerPid finds a service's container's init pid from its status.
func containerPid(t *testing.T, dir, root, state, project, service string) int {
	t.Helper()
	cmd := exec.Command(os.Getenv("BERTH_BINARY"), "--root", root, "--state", state, "-p", project, "ps", "--format", "json", service)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	var rows []struct{ ID string }
	json.Unmarshal(out, &rows)
	if len(rows) == 0 {
		t.Fatalf("no container of %s", service)
	}
	b, err := os.ReadFile(filepath.Join(root, "containers", rows[0].ID, "status.json"))
	if err != nil {
		t.Fatal(err)
	}
	var st struct{ Pid int }
	json.Unmarshal(b, &st)
	return st.Pid
}

func percentile(ds []time.Duration, p float64) time.Duration {
	s := append([]time.Duration{}, ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[min(len(s)-1, int(float64(len(s))*p))]
}

// cpuTicks is a process's user+system CPU time in clock ticks.
func cpuTicks(t *testing.T, pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
	u, _ := strconv.Atoi(f[11])
	s, _ := strconv.Atoi(f[12])
	return u + s
}

func inotifyWatchCount(pid int) int {
	fds, _ := filepath.Glob(fmt.Sprintf("/proc/%d/fdinfo/*", pid))
	n := 0
	for _, fd := range fds {
		b, _ := os.ReadFile(fd)
		n += strings.Count(string(b), "inotify wd:")
	}
	return n
}

// TestWatchSync measures edit-to-visible for the sync action: a file is
// written on the host and the time taken until the new content reads back
// inside the container (through /proc/PID/root, the container's own view),
// 50 edits; and edit-to-serving for rebuild: index.html of a busybox httpd
// image changed, until the new page is served on its published port, 5
// edits. Writes bench/results/watch.json with TestWatchIdle's figures.
func TestWatchSync(t *testing.T) {
	requireBench(t)
	bin := os.Getenv("BERTH_BINARY")
	root, state, dir := t.TempDir(), t.TempDir(), t.TempDir()
	importImage(t, bin, root, state)
	os.MkdirAll(filepath.Join(dir, "src"), 0o755)
	os.MkdirAll(filepath.Join(dir, "web"), 0o755)
	os.WriteFile(filepath.Join(dir, "src", "file.txt"), []byte("edit -1\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "web", "Dockerfile"), []byte("FROM busybox:bench\nRUN mkdir /www\nCOPY index.html /www/\nCMD [\"httpd\", \"-f\", \"-p\", \"8080\", \"-h\", \"/www\"]\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "web", "index.html"), []byte("v-1\n"), 0o644)
	// A fixed port, which the kernel says is free: a recreated container
	// keeps it, where a random one would change.
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(fmt.Sprintf(`services:
  app:
    image: busybox:bench
    command: ["sleep", "100000"]
    develop:
      watch:
        - action: sync
          path: ./src
          target: /app
  web:
    build: ./web
    ports: ["127.0.0.1:%d:8080"]
    develop:
      watch:
        - action: rebuild
          path: ./web
`, port)), 0o644)
	berthCmd(t, dir, root, state, "-p", "wbench", "up", "-d", "--build")
	defer berthCmd(t, dir, root, state, "-p", "wbench", "down")
	w := startWatch(t, dir, root, state, "wbench")
	defer func() {
		if t.Failed() {
			w.mu.Lock()
			t.Log(w.out.String())
			w.mu.Unlock()
		}
	}()
	pid := containerPid(t, dir, root, state, "wbench", "app")
	inside := fmt.Sprintf("/proc/%d/root/app/file.txt", pid)

	var syncs []time.Duration
	for i := 0; i < 50; i++ {
		want := fmt.Sprintf("edit %d\n", i)
		start := time.Now()
		os.WriteFile(filepath.Join(dir, "src", "file.txt"), []byte(want), 0o644)
		for {
			if b, _ := os.ReadFile(inside); string(b) == want {
				break
			}
			if time.Since(start) > 10*time.Second {
				t.Fatalf("edit %d never arrived", i)
			}
			time.Sleep(200 * time.Microsecond)
		}
		syncs = append(syncs, time.Since(start))
		time.Sleep(50 * time.Millisecond) // one edit at a time, as a person saves
	}

	url := fmt.Sprintf("http://127.0.0.1:%d/index.html", port)
	client := &http.Client{Timeout: time.Second}
	var rebuilds []time.Duration
	for i := 0; i < 5; i++ {
		want := fmt.Sprintf("v%d\n", i)
		start := time.Now()
		os.WriteFile(filepath.Join(dir, "web", "index.html"), []byte(want), 0o644)
		for {
			var got string
			if resp, err := client.Get(url); err == nil {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if got = string(b); got == want {
					break
				}
			} else {
				got = err.Error()
			}
			if time.Since(start) > 60*time.Second {
				t.Fatalf("rebuild %d never served (%s: %q)", i, url, got)
			}
			time.Sleep(5 * time.Millisecond)
		}
		rebuilds = append(rebuilds, time.Since(start))
		t.Logf("rebuild %d served after %s", i, time.Since(start))
	}
	res := readResult("watch.json")
	res["sync_edits"] = len(syncs)
	res["sync_ms_median"] = ms(percentile(syncs, 0.5))
	res["sync_ms_p95"] = ms(percentile(syncs, 0.95))
	res["sync_ms_max"] = ms(percentile(syncs, 1))
	res["rebuild_edits"] = len(rebuilds)
	res["rebuild_to_serving_ms_median"] = ms(percentile(rebuilds, 0.5))
	res["rebuild_to_serving_ms_max"] = ms(percentile(rebuilds, 1))
	res["date"] = time.Now().UTC().Format(time.RFC3339)
	writeResult(t, "watch.json", res)
}

// TestWatchIdle watches a tree of 50,000 files, 45,000 of them in an
// ignored node_modules, and records the inotify watches berth holds
// against the directories not ignored, the time to get ready, and the CPU
// it uses over 10 idle seconds. Writes bench/results/watch.json.
func TestWatchIdle(t *testing.T) {
	requireBench(t)
	bin := os.Getenv("BERTH_BINARY")
	root, state, dir := t.TempDir(), t.TempDir(), t.TempDir()
	importImage(t, bin, root, state)
	dirs := 0
	mk := func(d string, files int) {
		os.MkdirAll(filepath.Join(dir, d), 0o755)
		for i := 0; i < files; i++ {
			os.WriteFile(filepath.Join(dir, d, fmt.Sprintf("f%02d.js", i)), []byte("x"), 0o644)
		}
	}
	for i := 0; i < 250; i++ { // 5,000 files in 250 directories, watched
		mk(fmt.Sprintf("src/m%02d/d%03d", i%25, i), 20)
		dirs++
	}
	dirs += 25 + 1              // src/mNN and src
	for i := 0; i < 4500; i++ { // 45,000 files in 4,500 directories, ignored
		mk(fmt.Sprintf("src/node_modules/p%03d/d%04d", i%300, i), 10)
	}
	os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(`services:
  app:
    image: busybox:bench
    command: ["sleep", "100000"]
    develop:
      watch:
        - action: sync
          path: ./src
          target: /app
          ignore: [node_modules/]
`), 0o644)
	berthCmd(t, dir, root, state, "-p", "wibench", "up", "-d")
	defer berthCmd(t, dir, root, state, "-p", "wibench", "down")
	start := time.Now()
	w := startWatch(t, dir, root, state, "wibench")
	ready := time.Since(start)
	pid := w.cmd.Process.Pid
	watches := inotifyWatchCount(pid)
	before := cpuTicks(t, pid)
	idle := 10 * time.Second
	time.Sleep(idle) // measuring idleness: nothing happens on purpose
	ticks := cpuTicks(t, pid) - before
	res := readResult("watch.json")
	res["idle_tree_files"] = 50000
	res["idle_tree_ignored_files"] = 45000
	res["idle_non_ignored_dirs"] = dirs
	res["idle_inotify_watches"] = watches
	res["idle_ready_ms"] = ms(ready)
	res["idle_cpu_ticks_10s"] = ticks // 100 ticks = 1 CPU second
	res["idle_cpu_percent"] = round(float64(ticks) / idle.Seconds())
	res["date"] = time.Now().UTC().Format(time.RFC3339)
	writeResult(t, "watch.json", res)
	if watches > dirs {
		t.Errorf("%d inotify watches for %d directories not ignored", watches, dirs)
	}
}

// readResult reads a result file so two benchmarks can share it.
func readResult(name string) map[string]any {
	out := map[string]any{}
	if b, err := os.ReadFile(filepath.Join("results", name)); err == nil {
		json.Unmarshal(b, &out)
	}
	return out
}
