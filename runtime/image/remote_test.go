package image

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// newRegistry serves ggcr's in-process registry on loopback; wrap, when
// set, sees every request first.
func newRegistry(t *testing.T, wrap func(http.Handler) http.Handler) string {
	t.Helper()
	h := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func pushRandom(t *testing.T, ref string, layers int64) v1.Image {
	t.Helper()
	img, err := random.Image(64<<10, layers)
	if err != nil {
		t.Fatal(err)
	}
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img); err != nil {
		t.Fatal(err)
	}
	return img
}

func TestPullByTagAndDigest(t *testing.T) {
	requireRoot(t)
	reg := newRegistry(t, nil)
	want := pushRandom(t, reg+"/app:v1", 3)
	digest, _ := want.Digest()
	wantID, _ := want.ConfigName()
	s := newStore(t)
	ctx := context.Background()
	var events atomic.Int32
	img, err := s.Pull(ctx, reg+"/app:v1", PullOptions{Progress: func(Progress) { events.Add(1) }})
	if err != nil {
		t.Fatal(err)
	}
	if img.ID != wantID.String() || img.Digest != digest.String() || len(img.Layers) != 3 {
		t.Errorf("pulled %s %s with %d layers", img.ID, img.Digest, len(img.Layers))
	}
	if events.Load() == 0 {
		t.Error("no progress reported")
	}
	byDigest, err := s.Pull(ctx, reg+"/app@"+digest.String(), PullOptions{})
	if err != nil || byDigest.ID != img.ID {
		t.Fatalf("pull by digest: %v", err)
	}
	if _, err := s.Get(ctx, reg+"/app@"+digest.String()); err != nil {
		t.Errorf("digest name not stored: %v", err)
	}
}

func TestPullPicksPlatformFromIndex(t *testing.T) {
	requireRoot(t)
	reg := newRegistry(t, nil)
	amd, _ := random.Image(512, 1)
	arm, _ := random.Image(512, 1)
	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, "application/vnd.oci.image.index.v1+json"),
		mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}},
		mutate.IndexAddendum{Add: amd, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
	)
	r, _ := name.ParseReference(reg+"/multi:1", name.Insecure)
	if err := remote.WriteIndex(r, idx); err != nil {
		t.Fatal(err)
	}
	s := newStore(t)
	img, err := s.Pull(context.Background(), reg+"/multi:1", PullOptions{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}})
	if err != nil {
		t.Fatal(err)
	}
	armID, _ := arm.ConfigName()
	if img.ID != armID.String() {
		t.Errorf("pulled %s, want the arm64 image %s", img.ID, armID)
	}
}

func TestPullThroughMirrorKeepsName(t *testing.T) {
	requireRoot(t)
	mirror := newRegistry(t, nil)
	want := pushRandom(t, mirror+"/library/redis:7", 1)
	s := newStore(t)
	img, err := s.Pull(context.Background(), "redis:7", PullOptions{Config: Config{Mirrors: map[string][]string{"docker.io": {"http://" + mirror}}}})
	if err != nil {
		t.Fatal(err)
	}
	id, _ := want.ConfigName()
	if img.Name != "docker.io/library/redis:7" || img.ID != id.String() {
		t.Errorf("got %s %s", img.Name, img.ID)
	}
}

func TestInterruptedPullLeavesNoBlob(t *testing.T) {
	requireRoot(t)
	var cut atomic.Bool
	cut.Store(true)
	reg := newRegistry(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if cut.Load() && strings.Contains(r.URL.Path, "/blobs/") && r.Method == http.MethodGet {
				// Send half of the blob, then drop the connection.
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, r)
				body := rec.Body.Bytes()
				if len(body) > 2048 {
					w.Header().Set("Content-Length", strconv.Itoa(len(body)))
					w.WriteHeader(http.StatusOK)
					w.Write(body[:len(body)/2])
					if hj, ok := w.(http.Hijacker); ok {
						c, _, _ := hj.Hijack()
						c.Close()
					}
					return
				}
			}
			h.ServeHTTP(w, r)
		})
	})
	pushRandom(t, reg+"/big:1", 2)
	s := newStore(t)
	ctx := context.Background()
	if _, err := s.Pull(ctx, reg+"/big:1", PullOptions{}); err == nil {
		t.Fatal("pull through a broken connection succeeded")
	}
	// Every blob present is whole: its name is its digest.
	ents, _ := os.ReadDir(filepath.Join(s.root, "blobs", "sha256"))
	for _, e := range ents {
		b, _ := os.ReadFile(filepath.Join(s.root, "blobs", "sha256", e.Name()))
		if h, _, _ := v1.SHA256(bytes.NewReader(b)); h.Hex != e.Name() {
			t.Errorf("blob %s is corrupt or partial", e.Name())
		}
	}
	if imgs, _ := s.List(ctx); len(imgs) != 0 {
		t.Errorf("a failed pull named an image: %v", imgs)
	}
	cut.Store(false)
	if _, err := s.Pull(ctx, reg+"/big:1", PullOptions{}); err != nil {
		t.Fatalf("pull after the interruption: %v", err)
	}
}

func TestPushThenPull(t *testing.T) {
	requireRoot(t)
	reg := newRegistry(t, nil)
	ctx := context.Background()
	src := newStore(t)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: "f", Mode: 0o644, Size: 2, Typeflag: tar.TypeReg})
	tw.Write([]byte("hi"))
	tw.Close()
	img, err := src.Import(ctx, &buf, reg+"/pushed:1", ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := src.Push(ctx, reg+"/pushed:1", "", PushOptions{}); err != nil {
		t.Fatal(err)
	}
	dst := newStore(t)
	got, err := dst.Pull(ctx, reg+"/pushed:1", PullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != img.ID || got.Digest != img.Digest {
		t.Errorf("round trip changed the image: %s/%s vs %s/%s", got.ID, got.Digest, img.ID, img.Digest)
	}
}
