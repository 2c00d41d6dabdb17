package berthtest_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
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

	"github.com/berthdev/berth/berthtest"
	"github.com/berthdev/berth/internal/busybox"
	"github.com/berthdev/berth/runtime/image"
)

// root and state are the berth directories of the package's tests, with
// the busybox image in the store as "busybox".
var root, state string

func TestMain(m *testing.M) {
	flag.Parse()
	code := func() int {
		if os.Getenv(holdEnv) != "" {
			// A child of TestStackRemovedWhenTheTestIsKilled, on its
			// parent's root.
			root, state = os.Getenv("BERTH_ROOT"), os.Getenv("BERTH_STATE")
			return m.Run()
		}
		if os.Geteuid() != 0 {
			// The example starts containers and cannot skip; the tests
			// skip by themselves.
			if flag.Lookup("test.run").Value.String() == "" {
				flag.Set("test.run", "^Test")
			}
			return m.Run()
		}
		dir, err := os.MkdirTemp("", "berthtest-")
		if err != nil {
			panic(err)
		}
		defer os.RemoveAll(dir)
		root, state = filepath.Join(dir, "root"), filepath.Join(dir, "state")
		if err := importBusybox(root); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		// The example uses the defaults, as a test of a user would.
		os.Setenv("BERTH_ROOT", root)
		os.Setenv("BERTH_STATE", state)
		return m.Run()
	}()
	os.Exit(code)
}

func importBusybox(root string) error {
	tarball, err := busybox.TarBytes(busybox.Options{})
	if err != nil {
		return err
	}
	store, err := image.Open(root)
	if err != nil {
		return err
	}
	_, err = store.Import(context.Background(), bytes.NewReader(tarball), "busybox", image.ImportOptions{})
	return err
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("root test in CI without root")
		}
		t.Skip("needs root")
	}
}

// freePort asks the kernel for a free port and keeps it bound, so that a
// stack that tried to publish on it would fail.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp4", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l.Addr().(*net.TCPAddr).Port
}

func get(t *testing.T, addr string) string {
	t.Helper()
	c := http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get("http://" + addr + "/")
	if err != nil {
		t.Fatalf("GET %s: %v", addr, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// Four stacks of one project, whose web service publishes a fixed host
// port (held by the test, so that publishing it would fail) and has a
// fixed container name, run at once; each reaches its own services from
// the test process, runs commands in them, reads their logs, and nothing
// of any is left afterwards.
func TestUpParallelStacks(t *testing.T) {
	requireRoot(t)
	fixed := freePort(t)
	names := make(chan string, 4)
	t.Run("stacks", func(t *testing.T) {
		for i := range 4 {
			t.Run(fmt.Sprint(i), func(t *testing.T) {
				t.Parallel()
				s := berthtest.Up(t, berthtest.Options{
					Files: []string{"testdata/compose.yaml"},
					Env:   []string{fmt.Sprintf("WEB_PORT=%d", fixed)},
				})
				names <- s.Name
				web := s.Addr("web", 80)
				if !strings.HasPrefix(web, "127.0.0.1:") || strings.HasSuffix(web, fmt.Sprintf(":%d", fixed)) {
					t.Errorf("web is at %s: want a free port on 127.0.0.1, not the fixed %d", web, fixed)
				}
				if got := get(t, web); got != "hello\n" {
					t.Errorf("web answered %q", got)
				}
				// cache publishes nothing: its own address.
				cache := s.Addr("cache", 8000)
				hostname, err := s.Exec(t.Context(), "cache", "cat", "/etc/hostname")
				if err != nil {
					t.Fatal(err)
				}
				if got := get(t, cache); got != hostname {
					t.Errorf("cache at %s answered %q, its hostname is %q", cache, got, hostname)
				}
				_, err = s.Exec(t.Context(), "web", "sh", "-c", "echo oops >&2; exit 3")
				var ee *berthtest.ExitError
				if !errors.As(err, &ee) || ee.Code != 3 || !strings.Contains(ee.Stderr, "oops") {
					t.Errorf("a command exiting 3: %v", err)
				}
				if logs := s.Logs("web"); !strings.Contains(logs, "web starting") {
					t.Errorf("web's logs: %q", logs)
				}
				if _, err := s.LookupAddr("cache", 9999); err != nil {
					t.Errorf("an unpublished port has the container's address: %v", err)
				}
				if _, err := s.LookupAddr("nosuch", 80); err == nil {
					t.Error("a service that is not in the project has an address")
				}
			})
		}
	})
	close(names)
	seen := map[string]bool{}
	for n := range names {
		if seen[n] {
			t.Errorf("two stacks are named %s", n)
		}
		seen[n] = true
	}
	if len(seen) != 4 {
		t.Errorf("%d stacks came up, want 4", len(seen))
	}
	assertNothingLeft(t, seen)
}

// assertNothingLeft checks that the stacks left no container, volume,
// project directory, mount, process or firewall rule.
func assertNothingLeft(t *testing.T, stacks map[string]bool) {
	t.Helper()
	for _, sub := range []string{"containers", "volumes", "projects"} {
		ents, _ := os.ReadDir(filepath.Join(root, sub))
		for _, ent := range ents {
			if !strings.HasPrefix(ent.Name(), ".") {
				t.Errorf("left in %s: %s", sub, ent.Name())
			}
		}
	}
	mounts, _ := os.ReadFile("/proc/self/mountinfo")
	for _, l := range strings.Split(string(mounts), "\n") {
		if strings.Contains(l, root) || strings.Contains(l, state) {
			t.Errorf("mount left: %s", l)
		}
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, _ := os.ReadFile(p)
		if bytes.Contains(b, []byte(root)) {
			t.Errorf("process left: %s %q", p, bytes.ReplaceAll(b, []byte{0}, []byte{' '}))
		}
	}
	if out, err := exec.Command("nft", "list", "ruleset").Output(); err == nil {
		for name := range stacks {
			if bytes.Contains(out, []byte(name)) {
				t.Errorf("nftables rules of %s left", name)
			}
		}
	}
}

// An image that is not in the store and cannot be pulled fails Start at
// once with a message naming it, and leaves nothing.
func TestStartMissingImage(t *testing.T) {
	requireRoot(t)
	// A port the kernel just gave and nobody listens on: connections are
	// refused.
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().(*net.TCPAddr).Port
	l.Close()
	for _, tc := range []struct {
		name string
		env  []string
		want string
	}{
		{"pull_policy never", nil, "berthtest-no-such-image"},
		{"unreachable registry", []string{fmt.Sprintf("MISSING_IMAGE=127.0.0.1:%d/nothing:1", closed), "MISSING_PULL=missing"}, "nothing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			s, err := berthtest.Start(t.Context(), berthtest.Options{
				Files: []string{"testdata/compose.yaml"}, Profiles: []string{"missing"}, Services: []string{"missing"},
				Env: tc.env, Timeout: time.Minute,
			})
			if err == nil {
				s.Close()
				t.Fatal("a stack whose image is missing started")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("the error does not name the image %s: %v", tc.want, err)
			}
			if d := time.Since(start); d > 30*time.Second {
				t.Errorf("failing took %s", d)
			}
			t.Log(err)
		})
	}
	assertNothingLeft(t, nil)
}

// Start refuses at once, saying why, when the test is not root. The test
// runs itself again as nobody to see it.
func TestStartNotRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		s, err := berthtest.Start(context.Background(), berthtest.Options{Files: []string{"testdata/compose.yaml"}})
		if err == nil {
			s.Close()
		}
		if !errors.Is(err, berthtest.ErrNotRoot) || !strings.Contains(err.Error(), "root") {
			t.Fatalf("Start without root: %v", err)
		}
		t.Logf("refused as uid %d", os.Geteuid())
		return
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "berthtest-nobody-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	os.Chmod(dir, 0o755)
	copyExe := filepath.Join(dir, "berthtest.test")
	b, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(copyExe, b, 0o755); err != nil {
		t.Fatal(err)
	}
	wd, _ := os.Getwd()
	os.MkdirAll(filepath.Join(dir, "testdata"), 0o755)
	compose, _ := os.ReadFile(filepath.Join(wd, "testdata", "compose.yaml"))
	os.WriteFile(filepath.Join(dir, "testdata", "compose.yaml"), compose, 0o644)
	cmd := exec.Command(copyExe, "-test.run", "^TestStartNotRoot$", "-test.v")
	cmd.Dir = dir
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + dir}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	done := make(chan struct{})
	var out []byte
	go func() { out, err = cmd.CombinedOutput(); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Minute):
		cmd.Process.Kill()
		<-done
		t.Fatalf("Start as nobody hung:\n%s", out)
	}
	if err != nil || !bytes.Contains(out, []byte("--- PASS: TestStartNotRoot")) || !bytes.Contains(out, []byte("refused as uid 65534")) {
		t.Fatalf("as nobody: %v\n%s", err, out)
	}
}

// holdEnv names the file a child test binary writes its stack's name to
// before it waits to be killed.
const holdEnv = "BERTHTEST_HOLD"

// TestHoldStack is the child of TestStackRemovedWhenTheTestIsKilled: it
// starts a stack, says so, and waits for its signal.
func TestHoldStack(t *testing.T) {
	file := os.Getenv(holdEnv)
	if file == "" {
		// It is the child process of TestStackRemovedWhenTheTestIsKilled,
		// and does nothing on its own (a skip would fail CI, which
		// allows none).
		return
	}
	s := berthtest.Up(t, berthtest.Options{Files: []string{"testdata/compose.yaml"}, Services: []string{"web"}, Env: []string{"WEB_PORT=0"}})
	if err := os.WriteFile(file, []byte(s.Name), 0o644); err != nil {
		t.Fatal(err)
	}
	select {}
}

// A test binary ended by SIGINT or SIGTERM removes its stacks before it
// dies of the signal; one killed outright leaves its stack to the next
// stack started on the root, which removes it.
func TestStackRemovedWhenTheTestIsKilled(t *testing.T) {
	requireRoot(t)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGKILL} {
		t.Run(sig.String(), func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "stack")
			cmd := exec.Command(exe, "-test.run", "^TestHoldStack$", "-test.timeout", "5m")
			cmd.Env = append(os.Environ(), holdEnv+"="+file)
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			var name []byte
			deadline := time.Now().Add(2 * time.Minute)
			for len(name) == 0 {
				if time.Now().After(deadline) {
					cmd.Process.Kill()
					cmd.Wait()
					t.Fatalf("the child started no stack:\n%s", out.String())
				}
				time.Sleep(20 * time.Millisecond)
				name, _ = os.ReadFile(file)
			}
			cmd.Process.Signal(sig)
			err := cmd.Wait()
			ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
			if !ws.Signaled() || ws.Signal() != sig {
				t.Fatalf("the child did not die of %v: %v\n%s", sig, err, out.String())
			}
			if sig == syscall.SIGKILL {
				if _, err := os.Stat(filepath.Join(root, "projects", string(name))); err != nil {
					t.Fatalf("the killed child's stack %s is not there to be removed: %v", name, err)
				}
				// The next stack on the root removes it.
				s, err := berthtest.Start(t.Context(), berthtest.Options{Files: []string{"testdata/compose.yaml"}, Services: []string{"web"}, Env: []string{"WEB_PORT=0"}})
				if err != nil {
					t.Fatal(err)
				}
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
			}
			assertNothingLeft(t, map[string]bool{string(name): true})
		})
	}
}
