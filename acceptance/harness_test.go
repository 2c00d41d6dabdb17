// Package acceptance holds black-box tests of the built berth binary. They
// run as root with real namespaces, mounts, bridges and nftables; each test
// has its own --root and --state and a unique project name, and ends by
// checking that nothing of it is left on the host.
package acceptance

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/busybox"
)

// binary is the berth under test: $BERTH_BINARY, or one built for the run.
var binary string

func TestMain(m *testing.M) {
	code := func() int {
		binary = os.Getenv("BERTH_BINARY")
		if binary == "" {
			dir, err := os.MkdirTemp("", "berth-acceptance-")
			if err != nil {
				panic(err)
			}
			defer os.RemoveAll(dir)
			binary = filepath.Join(dir, "berth")
			cmd := exec.Command("go", "build", "-tags", "osusergo netgo seccomp", "-ldflags", "-linkmode external -extldflags -static", "-o", binary, "../cmd/berth")
			cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
			if err := cmd.Run(); err != nil {
				fmt.Fprintln(os.Stderr, "building berth:", err)
				return 1
			}
		}
		return m.Run()
	}()
	os.Exit(code)
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("acceptance test in CI without root")
		}
		t.Skip("needs root")
	}
}

// env is one test's private berth: its own root, state, project directory
// and project name.
type env struct {
	t       *testing.T
	Root    string
	State   string
	Dir     string // the project directory
	Project string
	Env     []string
	before  hostSnapshot
}

func newEnv(t *testing.T) *env {
	t.Helper()
	requireRoot(t)
	b := make([]byte, 3)
	rand.Read(b)
	e := &env{
		t:       t,
		Root:    t.TempDir(),
		State:   t.TempDir(),
		Dir:     t.TempDir(),
		Project: "t" + hex.EncodeToString(b),
	}
	e.before = snapshotHost(t)
	t.Cleanup(e.checkNothingLeft)
	return e
}

// result is what one berth command did.
type result struct {
	Stdout, Stderr string
	Code           int
}

// berth runs the binary in the project directory with the test's root,
// state and project name, and returns what it did without failing.
func (e *env) berth(args ...string) result {
	e.t.Helper()
	return e.berthIn(nil, args...)
}

func (e *env) berthIn(stdin []byte, args ...string) result {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	full := append([]string{"--root", e.Root, "--state", e.State}, args...)
	cmd := exec.CommandContext(ctx, binary, full...)
	cmd.Dir = e.Dir
	cmd.Env = append(append(os.Environ(), "COMPOSE_PROJECT_NAME="+e.Project), e.Env...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{Stdout: out.String(), Stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.Code = ee.ExitCode()
	case err != nil:
		e.t.Fatalf("running berth %v: %v", args, err)
	}
	return r
}

// must runs berth and fails the test unless it succeeds.
func (e *env) must(args ...string) string {
	e.t.Helper()
	r := e.berth(args...)
	if r.Code != 0 {
		e.t.Fatalf("berth %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.Code, r.Stdout, r.Stderr)
	}
	return r.Stdout
}

// writeFile writes a file under the project directory.
func (e *env) writeFile(name, content string) {
	e.t.Helper()
	p := filepath.Join(e.Dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		e.t.Fatal(err)
	}
}

// importBusybox makes the busybox test image under name in the test's root.
func (e *env) importBusybox(name string, opts busybox.Options) {
	e.t.Helper()
	tarball, err := busybox.TarBytes(opts)
	if err != nil {
		e.t.Fatal(err)
	}
	if r := e.berthIn(tarball, "image", "import", "-", name); r.Code != 0 {
		e.t.Fatalf("image import: %s", r.Stderr)
	}
}

// eventually polls cond until it holds or the time is up.
func (e *env) eventually(d time.Duration, what string, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			e.t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// hostSnapshot is what of the host a test could leak: network interfaces,
// network namespaces and the nftables rule set.
type hostSnapshot struct {
	links   []string
	nft     string
	cgroups []string
}

func snapshotHost(t *testing.T) hostSnapshot {
	t.Helper()
	var s hostSnapshot
	if out, err := exec.Command("ip", "-o", "link", "show").Output(); err == nil {
		for _, l := range strings.Split(string(out), "\n") {
			if f := strings.Fields(l); len(f) > 1 {
				s.links = append(s.links, strings.TrimSuffix(strings.Split(f[1], "@")[0], ":"))
			}
		}
	}
	if out, err := exec.Command("nft", "list", "ruleset").Output(); err == nil {
		s.nft = string(out)
	}
	for _, pattern := range []string{"/sys/fs/cgroup/*/berth/*", "/sys/fs/cgroup/berth/*"} {
		m, _ := filepath.Glob(pattern)
		for _, d := range m {
			if fi, err := os.Stat(d); err == nil && fi.IsDir() {
				s.cgroups = append(s.cgroups, d)
			}
		}
	}
	return s
}

// checkNothingLeft takes the project down (volumes included) and checks
// that no mount, process, cgroup, interface or nftables rule of the test
// remains.
func (e *env) checkNothingLeft() {
	t := e.t
	own := e.ownNames()
	if _, err := os.Stat(filepath.Join(e.Root, "containers")); err == nil {
		e.berth("down", "-v", "--remove-orphans", "-t", "1")
		e.berth("rm", "-f", "-s")
	}
	// Let any leftover container be reported rather than block the rest.
	mounts, _ := os.ReadFile("/proc/self/mountinfo")
	for _, l := range strings.Split(string(mounts), "\n") {
		if strings.Contains(l, e.Root) || strings.Contains(l, e.State) {
			t.Errorf("mount left: %s", l)
		}
	}
	// A process of the test names its root and state on its command line
	// or, for one started by a script, in its environment.
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, _ := os.ReadFile(p)
		env, _ := os.ReadFile(filepath.Join(filepath.Dir(p), "environ"))
		if bytes.Contains(b, []byte(e.Root)) || bytes.Contains(b, []byte(e.State)) ||
			bytes.Contains(env, []byte("BERTH_ROOT="+e.Root+"\x00")) || bytes.Contains(env, []byte("BERTH_STATE="+e.State+"\x00")) {
			t.Errorf("process left: %s %q", p, bytes.ReplaceAll(b, []byte{0}, []byte{' '}))
		}
	}
	ents, _ := os.ReadDir(filepath.Join(e.Root, "containers"))
	for _, ent := range ents {
		for _, base := range []string{"/sys/fs/cgroup/memory/berth", "/sys/fs/cgroup/pids/berth", "/sys/fs/cgroup/berth", "/sys/fs/cgroup/unified/berth"} {
			if _, err := os.Stat(filepath.Join(base, ent.Name())); err == nil {
				t.Errorf("cgroup left: %s/%s", base, ent.Name())
			}
		}
	}
	after := snapshotHost(t)
	for _, c := range after.cgroups {
		if !slices.Contains(e.before.cgroups, c) && own.match(filepath.Base(c)) {
			t.Errorf("cgroup left: %s", c)
		}
	}
	for _, l := range after.links {
		if !slices.Contains(e.before.links, l) && own.match(l) {
			t.Errorf("network interface left: %s", l)
		}
	}
	if strings.Contains(after.nft, e.Project) {
		t.Errorf("nftables rules of project %s left:\n%s", e.Project, after.nft)
	}
	if own.all && !strings.Contains(e.before.nft, "table ip berth") && strings.Contains(after.nft, "table ip berth") {
		t.Errorf("nftables table ip berth left with no project using it:\n%s", after.nft)
	}
	if ns, _ := os.ReadDir(filepath.Join(e.State, "netns")); len(ns) > 0 {
		t.Errorf("network namespaces left under %s", e.State)
	}
}

// ownedNames tells the host's cgroups and interfaces that belong to one
// test from those of other tests running on the host at the same time.
// In CI, where nothing else runs, everything new on the host counts.
type ownedNames struct {
	all        bool
	ids        []string // container IDs the test's root ever created
	interfaces []string
}

func (o ownedNames) match(name string) bool {
	if o.all || slices.Contains(o.interfaces, name) {
		return true
	}
	for _, id := range o.ids {
		// cgroups are named by the ID, veths vb<10 hex digits><n>.
		if name == id || (len(id) >= 10 && strings.HasPrefix(name, "vb"+id[:10])) {
			return true
		}
	}
	return false
}

// ownNames reads, before the test's project is taken down, which
// containers its root created (the events log lists every one) and which
// bridges its projects have.
func (e *env) ownNames() ownedNames {
	o := ownedNames{all: os.Getenv("CI") != ""}
	logs, _ := filepath.Glob(filepath.Join(e.State, "events", "*"))
	for _, l := range logs {
		b, _ := os.ReadFile(l)
		for _, line := range bytes.Split(b, []byte("\n")) {
			var ev struct {
				ID string `json:"id"`
			}
			if json.Unmarshal(line, &ev) == nil && ev.ID != "" && !slices.Contains(o.ids, ev.ID) {
				o.ids = append(o.ids, ev.ID)
			}
		}
	}
	ents, _ := os.ReadDir(filepath.Join(e.Root, "containers"))
	for _, ent := range ents {
		o.ids = append(o.ids, strings.TrimSuffix(strings.TrimSuffix(ent.Name(), ".creating"), ".removing"))
	}
	states, _ := filepath.Glob(filepath.Join(e.Root, "projects", "*", "network.json"))
	for _, s := range states {
		b, _ := os.ReadFile(s)
		var st struct {
			Networks map[string]struct {
				Bridge string `json:"bridge"`
			} `json:"networks"`
		}
		if json.Unmarshal(b, &st) == nil {
			for _, n := range st.Networks {
				o.interfaces = append(o.interfaces, n.Bridge)
			}
		}
	}
	return o
}

// busyboxTarWith is busybox's root file system as a tar stream, every name
// prefixed with prefix ("./" as docker save writes them, or ""), followed
// by what extra writes.
func busyboxTarWith(t *testing.T, prefix string, extra func(tw *tar.Writer)) []byte {
	t.Helper()
	base, err := busybox.TarBytes(busybox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tr := tar.NewReader(bytes.NewReader(base))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		h.Name = prefix + h.Name
		tw.WriteHeader(h)
		io.Copy(tw, tr)
	}
	extra(tw)
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
