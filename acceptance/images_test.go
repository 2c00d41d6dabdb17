package acceptance

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/busybox"
	"golang.org/x/crypto/bcrypt"
)

// registry is Debian's docker-registry on a free loopback port, with basic
// auth when user is set.
type registry struct {
	Addr string
	cmd  *exec.Cmd
}

func startRegistry(t *testing.T, user, password string) *registry {
	t.Helper()
	if _, err := exec.LookPath("docker-registry"); err != nil {
		t.Fatal("docker-registry is not installed (make deps installs it)")
	}
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	dir := t.TempDir()
	cfg := fmt.Sprintf("version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s/data\n  delete:\n    enabled: true\nhttp:\n  addr: %s\n", dir, addr)
	if user != "" {
		hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, "htpasswd"), []byte(user+":"+string(hash)+"\n"), 0o600)
		cfg += fmt.Sprintf("auth:\n  htpasswd:\n    realm: berth-test\n    path: %s/htpasswd\n", dir)
	}
	os.WriteFile(filepath.Join(dir, "config.yml"), []byte(cfg), 0o644)
	r := &registry{Addr: addr, cmd: exec.Command("docker-registry", "serve", filepath.Join(dir, "config.yml"))}
	r.cmd.Stdout, r.cmd.Stderr = io.Discard, io.Discard
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.cmd.Process.Kill(); r.cmd.Wait() })
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp4", addr)
		if err == nil {
			c.Close()
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("registry did not start on %s", addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestPushPullRunThroughRealRegistry(t *testing.T) {
	e := newEnv(t)
	e.Env = append(e.Env, "DOCKER_CONFIG="+t.TempDir())
	reg := startRegistry(t, "berth", "s3cret")
	e.importBusybox("bb", busybox.Options{Files: map[string][]byte{"hello": []byte("from the registry\n")}})
	ref := reg.Addr + "/test/bb:v1"
	e.must("image", "tag", "bb", ref)
	if r := e.berth("image", "push", ref); r.Code == 0 {
		t.Fatal("push without credentials succeeded")
	}
	if r := e.berthIn([]byte("wrong\n"), "login", "-u", "berth", "--password-stdin", reg.Addr); r.Code == 0 {
		t.Fatal("login with a wrong password succeeded")
	}
	e.mustIn([]byte("s3cret\n"), "login", "-u", "berth", "--password-stdin", reg.Addr)
	e.must("image", "push", ref)
	digest := strings.TrimSpace(inspectField(t, e, ref, "Digest"))
	e.must("image", "rm", ref)
	e.must("image", "rm", "bb")
	e.must("image", "pull", "-q", ref)
	e.must("image", "pull", "-q", reg.Addr+"/test/bb@"+digest)
	e.writeFile("compose.yaml", fmt.Sprintf("services:\n  s:\n    image: %s/test/bb@%s\n", reg.Addr, digest))
	if out := e.must("run", "--rm", "-T", "s", "cat", "/hello"); out != "from the registry\n" {
		t.Errorf("ran %q", out)
	}
	e.must("logout", reg.Addr)
	e.must("down")
}

func inspectField(t *testing.T, e *env, ref, field string) string {
	t.Helper()
	out := e.must("image", "inspect", ref)
	i := strings.Index(out, `"`+field+`": "`)
	if i < 0 {
		t.Fatalf("no %s in %s", field, out)
	}
	rest := out[i+len(field)+5:]
	return rest[:strings.Index(rest, `"`)]
}

func (e *env) mustIn(stdin []byte, args ...string) string {
	e.t.Helper()
	r := e.berthIn(stdin, args...)
	if r.Code != 0 {
		e.t.Fatalf("berth %v: %d %s", args, r.Code, r.Stderr)
	}
	return r.Stdout
}

func TestInterruptedPullFromRealRegistry(t *testing.T) {
	e := newEnv(t)
	reg := startRegistry(t, "", "")
	big := make([]byte, 8<<20)
	for i := range big {
		big[i] = byte(i*7 + i/13)
	}
	e.importBusybox("bb", busybox.Options{Files: map[string][]byte{"big": big}})
	ref := reg.Addr + "/big/bb:1"
	e.must("image", "tag", "bb", ref)
	e.must("image", "push", ref)
	e.must("image", "rm", ref)
	e.must("image", "rm", "bb")
	e.must("image", "prune", "-a")
	// Stop the registry in the middle of the layer.
	cmd := exec.Command(binary, "--root", e.Root, "--state", e.State, "image", "pull", "-q", ref)
	cmd.Start()
	time.Sleep(30 * time.Millisecond)
	reg.cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	for _, img := range strings.Fields(e.must("images", "-q")) {
		t.Errorf("a failed pull left image %s", img)
	}
	blobs, _ := filepath.Glob(filepath.Join(e.Root, "images", "blobs", "sha256", "*"))
	for _, b := range blobs {
		data, _ := os.ReadFile(b)
		if got := sha256hex(data); got != filepath.Base(b) {
			t.Errorf("blob %s is partial", filepath.Base(b))
		}
	}
	// Restarted on the same storage, the pull completes.
	reg2 := exec.Command("docker-registry", reg.cmd.Args[1:]...)
	if err := reg2.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { reg2.Process.Kill(); reg2.Wait() }()
	e.eventually(10*time.Second, "the registry back", func() bool {
		c, err := net.Dial("tcp4", reg.Addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	e.must("image", "pull", "-q", ref)
	e.writeFile("compose.yaml", fmt.Sprintf("services:\n  s:\n    image: %s\n", ref))
	if out := e.must("run", "--rm", "-T", "s", "sh", "-c", "wc -c < /big"); strings.TrimSpace(out) != fmt.Sprint(len(big)) {
		t.Errorf("pulled layer: %q", out)
	}
	e.must("down")
}

func TestDockerArchiveRoundTripWithSkopeo(t *testing.T) {
	e := newEnv(t)
	if _, err := exec.LookPath("skopeo"); err != nil {
		t.Fatal("skopeo is not installed (make deps installs it)")
	}
	e.importBusybox("bb", busybox.Options{})
	for _, format := range []string{"docker", "oci"} {
		archive := filepath.Join(t.TempDir(), "img.tar")
		e.must("image", "save", "--format", format, "-o", archive, "bb")
		// skopeo reads what berth writes, and writes an archive berth loads.
		transport := map[string]string{"docker": "docker-archive:", "oci": "oci-archive:"}[format]
		out, err := exec.Command("skopeo", "inspect", "--raw", transport+archive).CombinedOutput()
		if err != nil {
			t.Fatalf("skopeo cannot read berth's %s archive: %v %s", format, err, out)
		}
		copied := filepath.Join(t.TempDir(), "copied.tar")
		dst := transport + copied + ":docker.io/library/copied:" + format
		if format == "oci" {
			dst = transport + copied + ":copied:" + format
		}
		if out, err := exec.Command("skopeo", "copy", "--quiet", transport+archive, dst).CombinedOutput(); err != nil {
			t.Fatalf("skopeo copy: %v %s", err, out)
		}
		if out := e.must("image", "load", "-i", copied); !strings.Contains(out, "Loaded image") {
			t.Errorf("load of skopeo's %s archive: %q", format, out)
		}
	}
}

func sha256hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}
