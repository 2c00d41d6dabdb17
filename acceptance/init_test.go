package acceptance

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/berthdev/berth/internal/busybox"
)

// berthInit runs `berth init ARGS` as a user types it: "init" is the
// binary's first argument, as it is for libcontainer's container init,
// which berth must tell apart.
func berthInit(t *testing.T, dir string, args ...string) result {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"init"}, args...)...)
	cmd.Dir = dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{Stdout: out.String(), Stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.Code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return r
}

var starterNames = []string{"go", "node", "python", "static-site"}

// Every starter is listed, written, and accepted by `berth config` with
// its develop.watch rules and its test service; a second init refuses to
// overwrite, and --force does.
func TestInitStarters(t *testing.T) {
	list := berthInit(t, t.TempDir(), "--list")
	if list.Code != 0 {
		t.Fatalf("init --list: exit %d: %s", list.Code, list.Stderr)
	}
	for _, name := range starterNames {
		if !regexp.MustCompile(`(?m)^` + name + ` +\S`).MatchString(list.Stdout) {
			t.Errorf("init --list has no %s with a description:\n%s", name, list.Stdout)
		}
	}

	for _, name := range starterNames {
		t.Run(name, func(t *testing.T) {
			top := t.TempDir()
			if r := berthInit(t, top, "--template", name, "app"); r.Code != 0 {
				t.Fatalf("init: exit %d: %s", r.Code, r.Stderr)
			}
			dir := filepath.Join(top, "app")
			for _, f := range []string{"compose.yaml", "Dockerfile", ".dockerignore"} {
				if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
					t.Error(err)
				}
			}

			cmd := exec.Command(binary, "config", "--format", "json")
			cmd.Dir = dir
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("berth config: %v\n%s", err, stderrOf(err))
			}
			var cfg struct {
				Services map[string]struct {
					Develop struct {
						Watch []struct{ Path, Action string }
					}
				}
			}
			if err := json.Unmarshal(out, &cfg); err != nil {
				t.Fatalf("config json: %v\n%s", err, out)
			}
			var rules int
			for _, s := range cfg.Services {
				rules += len(s.Develop.Watch)
			}
			if rules == 0 {
				t.Errorf("no develop.watch rule in berth config:\n%s", out)
			}
			// Profiles are left out of `config` unless enabled.
			cmd = exec.Command(binary, "--profile", "test", "config", "--services")
			cmd.Dir = dir
			if out, err := cmd.Output(); err != nil || !strings.Contains(string(out), "tests\n") {
				t.Errorf("no tests service in profile test: %v\n%s", err, out)
			}

			compose := filepath.Join(dir, "compose.yaml")
			if err := os.WriteFile(compose, []byte("mine\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			if r := berthInit(t, top, "--template", name, "app"); r.Code == 0 {
				t.Error("a second init overwrote the project")
			}
			if b, _ := os.ReadFile(compose); string(b) != "mine\n" {
				t.Errorf("compose.yaml overwritten without --force: %q", b)
			}
			if r := berthInit(t, top, "--template", name, "--force", "app"); r.Code != 0 {
				t.Fatalf("init --force: exit %d: %s", r.Code, r.Stderr)
			}
			if b, _ := os.ReadFile(compose); string(b) == "mine\n" {
				t.Error("init --force did not overwrite compose.yaml")
			}
		})
	}
}

func stderrOf(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return ""
}

// baseImages are the FROM images of a Dockerfile that are not its stages.
func baseImages(t *testing.T, dockerfile string) []string {
	t.Helper()
	b, err := os.ReadFile(dockerfile)
	if err != nil {
		t.Fatal(err)
	}
	stages := map[string]bool{"scratch": true}
	var out []string
	for _, m := range regexp.MustCompile(`(?mi)^FROM\s+(\S+)(?:\s+AS\s+(\S+))?`).FindAllStringSubmatch(string(b), -1) {
		if !stages[m[1]] {
			out = append(out, m[1])
			stages[m[1]] = true
		}
		if m[2] != "" {
			stages[m[2]] = true
		}
	}
	return out
}

// initStarter writes a starter into the test's project directory, and
// publishes its port on one the kernel chooses rather than the starter's
// fixed one, through an override file as a user would.
func (e *env) initStarter(name, service, port string) {
	e.t.Helper()
	if r := berthInit(e.t, e.Dir, "--template", name); r.Code != 0 {
		e.t.Fatalf("init: exit %d: %s", r.Code, r.Stderr)
	}
	e.writeFile("compose.override.yaml", "services:\n  "+service+":\n    ports: !override [\"127.0.0.1::"+port+"\"]\n")
}

// runStarterTests runs the starter's test service beside its app: with
// `berth test` once berth has it, and with `berth run` until then.
func (e *env) runStarterTests() {
	e.t.Helper()
	args := []string{"run", "--rm", "--build", "tests"}
	if out, err := exec.Command(binary, "test", "--help").Output(); err == nil && strings.Contains(string(out), "\n  berth test ") {
		args = []string{"test", "--build", "tests"}
	}
	r := e.berth(args...)
	if r.Code != 0 {
		e.t.Fatalf("berth %s: exit %d\n%s\n%s", strings.Join(args, " "), r.Code, r.Stdout, r.Stderr)
	}
	if !strings.Contains(r.Stdout, "PASS") && !strings.Contains(r.Stdout, "ok ") {
		e.t.Errorf("the tests' output:\n%s", r.Stdout)
	}
}

// The static-site starter's base image is busybox, made here from
// Debian's busybox-static: the starter builds, serves its pages, and its
// link check passes beside it.
func TestInitStaticSiteBuildsAndRuns(t *testing.T) {
	e := newEnv(t)
	e.initStarter("static-site", "web", "8080")
	for _, base := range baseImages(t, filepath.Join(e.Dir, "Dockerfile")) {
		if !strings.HasPrefix(base, "busybox:") {
			t.Fatalf("static-site is built FROM %s, not busybox", base)
		}
		e.importBusybox(base, busybox.Options{})
	}
	e.must("up", "-d", "--build")
	page, err := os.ReadFile(filepath.Join(e.Dir, "site/index.html"))
	if err != nil {
		t.Fatal(err)
	}
	if got := httpGet(t, e.publishedURL("web", "8080")+"/"); got != string(page) {
		t.Errorf("GET /: %q, want site/index.html", got)
	}
	e.runStarterTests()
	e.must("down")
}

// The go starter's build stage runs on golang:<version>, made here from
// the Go toolchain that builds these tests (its image on a registry holds
// the same toolchain), and ships the static binary alone: it builds, it
// answers, and its tests pass beside it.
func TestInitGoBuildsAndRuns(t *testing.T) {
	e := newEnv(t)
	e.initStarter("go", "app", "8080")
	for _, base := range baseImages(t, filepath.Join(e.Dir, "Dockerfile")) {
		if !strings.HasPrefix(base, "golang:") {
			t.Fatalf("the go starter is built FROM %s, not golang", base)
		}
		e.importGolang(base)
	}
	e.must("up", "-d", "--build")
	if got := httpGet(t, e.publishedURL("app", "8080")+"/"); got != "Hello from berth\n" {
		t.Errorf("GET /: %q", got)
	}
	e.runStarterTests()
	e.must("down")
}

// importGolang makes a golang image: busybox and the host's Go toolchain at
// /usr/local/go, as the official image has it, without Go's own tests.
func (e *env) importGolang(name string) {
	e.t.Helper()
	out, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		e.t.Fatalf("go env GOROOT: %v", err)
	}
	goroot := strings.TrimSpace(string(out))
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(writeGolangTar(pw, goroot)) }()
	cmd := exec.Command(binary, "--root", e.Root, "--state", e.State, "image", "import",
		"-c", "ENV PATH=/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"-c", "ENV GOTOOLCHAIN=local", "-", name)
	cmd.Stdin = pr
	if out, err := cmd.CombinedOutput(); err != nil {
		pr.CloseWithError(err)
		e.t.Fatalf("image import %s: %v\n%s", name, err, out)
	}
}

func writeGolangTar(w io.Writer, goroot string) error {
	bb, err := busybox.TarBytes(busybox.Options{})
	if err != nil {
		return err
	}
	tw := tar.NewWriter(w)
	tr := tar.NewReader(bytes.NewReader(bb))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if _, err := io.Copy(tw, tr); err != nil {
			return err
		}
	}
	// Go's own tests and documents are left out; the standard library's
	// sources stay, since a build compiles them.
	top := map[string]bool{"test": true, "doc": true, "api": true, "misc": true}
	err = filepath.WalkDir(goroot, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || top[d.Name()] && filepath.Dir(p) == goroot) {
			return filepath.SkipDir
		}
		if strings.HasSuffix(p, "_test.go") {
			return nil
		}
		rel, _ := filepath.Rel(goroot, p)
		info, err := d.Info()
		if err != nil {
			return err
		}
		link := ""
		if info.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(p); err != nil {
				return err
			}
		}
		h, err := tar.FileInfoHeader(info, link)
		if err != nil {
			return err
		}
		h.Name = filepath.ToSlash(filepath.Join("usr/local/go", rel))
		h.Uid, h.Gid, h.Uname, h.Gname = 0, 0, "", ""
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if info.Mode().IsRegular() {
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			_, err = io.Copy(tw, f)
			f.Close()
			return err
		}
		return nil
	})
	if err != nil {
		return err
	}
	return tw.Close()
}
