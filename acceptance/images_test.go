package acceptance

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
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

// Regression: the test killed the registry 30 ms into the pull, and on a
// fast machine the pull was done by then. A proxy now cuts the layer's
// download at a byte count, well inside the layer, whatever the speed.
func TestInterruptedPullFromRealRegistry(t *testing.T) {
	e := newEnv(t)
	reg := startRegistry(t, "", "")
	// Random, so that compression keeps the layer about as large.
	big := make([]byte, 8<<20)
	mrand.NewChaCha8([32]byte{1}).Read(big)
	e.importBusybox("bb", busybox.Options{Files: map[string][]byte{"big": big}})
	e.must("image", "tag", "bb", reg.Addr+"/big/bb:1")
	e.must("image", "push", reg.Addr+"/big/bb:1")
	e.must("image", "rm", reg.Addr+"/big/bb:1")
	e.must("image", "rm", "bb")
	e.must("image", "prune", "-a")
	layer := largestLayer(t, reg.Addr, "big/bb", "1")
	const cutAfter = 1 << 20
	if layer.Size < 4*cutAfter {
		t.Fatalf("the layer is %d bytes: too small to cut well inside it", layer.Size)
	}

	p := startCuttingProxy(t, reg.Addr, layer.Digest, cutAfter)
	ref := p.Addr + "/big/bb:1"
	r := e.berth("image", "pull", "-q", ref)
	if r.Code == 0 {
		t.Fatal("the pull succeeded through a cut connection")
	}
	if p.cuts.Load() == 0 {
		t.Fatalf("the proxy cut nothing; the pull failed otherwise: %s", r.Stderr)
	}
	if !strings.Contains(r.Stderr, "big/bb") || strings.Contains(r.Stderr, "goroutine ") {
		t.Errorf("the failed pull says %q; want an error naming the image", r.Stderr)
	}
	for _, img := range strings.Fields(e.must("images", "-q")) {
		t.Errorf("a failed pull left image %s", img)
	}
	checkNoPartialBlobs(t, e.Root, layer.Digest)

	// Once the connection holds, the same pull completes and runs.
	p.cutting.Store(false)
	e.must("image", "pull", "-q", ref)
	e.writeFile("compose.yaml", fmt.Sprintf("services:\n  s:\n    image: %s\n", ref))
	if out := e.must("run", "--rm", "-T", "s", "sha256sum", "/big"); !strings.HasPrefix(out, sha256hex(big)+" ") {
		t.Errorf("pulled layer: %q", out)
	}
	e.must("down")
}

// largestLayer asks the registry for an image's manifest and returns its
// largest layer.
func largestLayer(t *testing.T, addr, repo, tag string) v1Descriptor {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("http://%s/v2/%s/manifests/%s", addr, repo, tag), nil)
	req.Header.Set("Accept", "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m struct{ Layers []v1Descriptor }
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil || len(m.Layers) == 0 {
		t.Fatalf("manifest of %s:%s: %v %+v", repo, tag, err, m)
	}
	return slices.MaxFunc(m.Layers, func(a, b v1Descriptor) int { return cmp.Compare(a.Size, b.Size) })
}

type v1Descriptor struct {
	Digest string
	Size   int64
}

// cuttingProxy forwards HTTP to a registry from a free loopback port.
// While cutting, it passes on the first cutAfter bytes of each response
// carrying the blob, then drops the connection mid-body.
type cuttingProxy struct {
	Addr    string
	cutting atomic.Bool
	cuts    atomic.Int32
}

func startCuttingProxy(t *testing.T, registry, blob string, cutAfter int64) *cuttingProxy {
	t.Helper()
	p := &cuttingProxy{}
	p.cutting.Store(true)
	target := &url.URL{Scheme: "http", Host: registry}
	rp := &httputil.ReverseProxy{
		Rewrite:       func(r *httputil.ProxyRequest) { r.SetURL(target) },
		Transport:     &http.Transport{Proxy: nil},
		FlushInterval: -1, // what is passed on reaches berth before the cut
		ErrorLog:      log.New(io.Discard, "", 0),
		ModifyResponse: func(resp *http.Response) error {
			if p.cutting.Load() && resp.Request.Method == http.MethodGet && resp.StatusCode == http.StatusOK &&
				strings.HasSuffix(resp.Request.URL.Path, "/blobs/"+blob) {
				p.cuts.Add(1)
				// A body that fails after cutAfter bytes makes the
				// proxy abort the connection: berth sees it end short
				// of its Content-Length.
				resp.Body = struct {
					io.Reader
					io.Closer
				}{io.MultiReader(io.LimitReader(resp.Body, cutAfter), errReader{}), resp.Body}
			}
			return nil
		},
	}
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.Addr = l.Addr().String()
	srv := &http.Server{Handler: rp, ErrorLog: log.New(io.Discard, "", 0)}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return p
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("connection cut by the test") }

// checkNoPartialBlobs checks that the store holds only complete blobs,
// each under its own digest, none of the cut one, and no temporary file
// or unpacking directory.
func checkNoPartialBlobs(t *testing.T, root, cut string) {
	t.Helper()
	blobs := filepath.Join(root, "images", "blobs", "sha256")
	ents, err := os.ReadDir(blobs)
	if err != nil {
		t.Fatal(err)
	}
	for _, ent := range ents {
		data, err := os.ReadFile(filepath.Join(blobs, ent.Name()))
		if err != nil {
			t.Errorf("blob %s: %v", ent.Name(), err)
			continue
		}
		if got := sha256hex(data); got != ent.Name() {
			t.Errorf("%s in the blob store is partial or temporary (%d bytes, sha256 %s)", ent.Name(), len(data), got[:12])
		}
		if "sha256:"+ent.Name() == cut {
			t.Errorf("the cut layer %s is in the store", cut)
		}
	}
	for _, dir := range []string{filepath.Join(root, "images"), filepath.Join(root, "snapshots")} {
		filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err == nil && strings.HasPrefix(d.Name(), ".") && d.Name() != ".lock" {
				t.Errorf("temporary %s left", path)
			}
			if d != nil && d.IsDir() && path != dir && filepath.Dir(path) == filepath.Join(root, "snapshots") {
				return filepath.SkipDir // a snapshot's own files
			}
			return nil
		})
	}
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
