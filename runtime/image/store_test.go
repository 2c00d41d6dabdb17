package image

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berthdev/berth/internal/busybox"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("root test in CI without root")
		}
		t.Skip("needs root (whiteouts and ownership)")
	}
}

func newStore(t *testing.T) *Store {
	t.Helper()
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

type entry struct {
	name, link string
	typ        byte
	body       string
	mode       int64
}

func layerTar(t testing.TB, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		mode := e.mode
		if mode == 0 {
			mode = 0o644
		}
		h := &tar.Header{Name: e.name, Linkname: e.link, Typeflag: e.typ, Mode: mode, Size: int64(len(e.body))}
		if e.typ == tar.TypeChar {
			h.Devmajor, h.Devminor = 1, 3
		}
		if e.typ != tar.TypeReg {
			h.Size = 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if e.typ == tar.TypeReg {
			tw.Write([]byte(e.body))
		}
	}
	tw.Close()
	return buf.Bytes()
}

func TestNormalize(t *testing.T) {
	for in, want := range map[string]string{
		"busybox":                       "docker.io/library/busybox:latest",
		"redis:7":                       "docker.io/library/redis:7",
		"me/app":                        "docker.io/me/app:latest",
		"localhost:5000/x":              "localhost:5000/x:latest",
		"127.0.0.1:5000/a/b:v1":         "127.0.0.1:5000/a/b:v1",
		"ghcr.io/o/r@sha256:" + zeros64: "ghcr.io/o/r@sha256:" + zeros64,
	} {
		got, err := Normalize(in)
		if err != nil || got != want {
			t.Errorf("Normalize(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := Normalize("UPPER/case"); err == nil {
		t.Error("invalid reference accepted")
	}
	if FamiliarName("docker.io/library/busybox:latest") != "busybox:latest" {
		t.Error("FamiliarName")
	}
}

const zeros64 = "0000000000000000000000000000000000000000000000000000000000000000"

func TestImportAndSnapshots(t *testing.T) {
	requireRoot(t)
	s := newStore(t)
	ctx := context.Background()
	rootfs, err := busybox.TarBytes(busybox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	img, err := s.Import(ctx, bytes.NewReader(rootfs), "test/busybox:1", ImportOptions{Config: v1.Config{Cmd: []string{"sh"}}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, "test/busybox:1")
	if err != nil || got.ID != img.ID {
		t.Fatalf("get by name: %v", err)
	}
	if got, err := s.Get(ctx, img.ID[7:19]); err != nil || got.ID != img.ID {
		t.Fatalf("get by ID prefix: %v", err)
	}
	snaps, err := s.Snapshots(ctx, img)
	if err != nil || len(snaps) != 1 {
		t.Fatal(snaps, err)
	}
	if target, err := os.Readlink(filepath.Join(snaps[0], "bin", "sh")); err != nil || target != "busybox" {
		t.Errorf("bin/sh -> %q, %v", target, err)
	}
	// A second image with the same layer shares the snapshot.
	img2, err := s.Import(ctx, bytes.NewReader(rootfs), "test/busybox:2", ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	snaps2, _ := s.Snapshots(ctx, img2)
	if snaps2[0] != snaps[0] {
		t.Errorf("same layer unpacked twice: %s and %s", snaps[0], snaps2[0])
	}
	if _, err := s.Get(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing image: %v", err)
	}
}

func TestStrictUnpackRefusesEscapes(t *testing.T) {
	requireRoot(t)
	for _, tc := range []struct {
		name    string
		entries []entry
	}{
		{"dotdot", []entry{{name: "../evil", typ: tar.TypeReg, body: "x"}}},
		{"nested dotdot", []entry{{name: "a/../../evil", typ: tar.TypeReg, body: "x"}}},
		{"hard link out", []entry{{name: "passwd", typ: tar.TypeLink, link: "../../../etc/passwd"}}},
		{"write through absolute symlink", []entry{{name: "lnk", typ: tar.TypeSymlink, link: "/tmp"}, {name: "lnk/evil", typ: tar.TypeReg, body: "x"}}},
		{"write through relative symlink", []entry{{name: "lnk", typ: tar.TypeSymlink, link: "../../.."}, {name: "lnk/evil", typ: tar.TypeReg, body: "x"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			layer := layerTar(t, append([]entry{{name: "ok", typ: tar.TypeReg, body: "fine"}}, tc.entries...)...)
			_, err := s.Import(context.Background(), bytes.NewReader(layer), "evil", ImportOptions{})
			var le *LayerError
			if !errors.As(err, &le) {
				t.Fatalf("want a LayerError, got %v", err)
			}
			// Nothing of the layer is kept: no snapshot, no blob, no name.
			if ents, _ := os.ReadDir(s.snap); len(ents) != 0 {
				t.Errorf("snapshots left: %v", ents)
			}
			if ents, _ := os.ReadDir(filepath.Join(s.root, "blobs", "sha256")); len(ents) != 0 {
				t.Errorf("blobs left: %v", ents)
			}
			if imgs, _ := s.List(context.Background()); len(imgs) != 0 {
				t.Errorf("image named: %v", imgs)
			}
			for _, p := range []string{"/evil", "/tmp/evil", filepath.Dir(s.root) + "/evil"} {
				if _, err := os.Stat(p); err == nil {
					t.Errorf("%s written outside the layer", p)
					os.Remove(p)
				}
			}
		})
	}
}

func TestWhiteoutsBecomeOverlayWhiteouts(t *testing.T) {
	requireRoot(t)
	s := newStore(t)
	ctx := context.Background()
	base, err := s.Import(ctx, bytes.NewReader(layerTar(t,
		entry{name: "keep", typ: tar.TypeReg, body: "k"},
		entry{name: "gone", typ: tar.TypeReg, body: "g"},
		entry{name: "dir/", typ: tar.TypeDir, mode: 0o755},
		entry{name: "dir/old", typ: tar.TypeReg, body: "o"},
	)), "base", ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	top, err := s.Commit(ctx, CommitOptions{Parent: base, Name: "top", Layer: bytes.NewReader(layerTar(t,
		entry{name: ".wh.gone", typ: tar.TypeReg},
		entry{name: "dir/", typ: tar.TypeDir, mode: 0o755},
		entry{name: "dir/.wh..wh..opq", typ: tar.TypeReg},
		entry{name: "dir/new", typ: tar.TypeReg, body: "n"},
	))})
	if err != nil {
		t.Fatal(err)
	}
	snaps, err := s.Snapshots(ctx, top)
	if err != nil || len(snaps) != 2 {
		t.Fatal(snaps, err)
	}
	fi, err := os.Lstat(filepath.Join(snaps[1], "gone"))
	if err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		t.Errorf("gone is not an overlay whiteout: %v %v", fi, err)
	}
	if v, err := getxattr(filepath.Join(snaps[1], "dir"), "trusted.overlay.opaque"); err != nil || v != "y" {
		t.Errorf("dir not opaque: %q %v", v, err)
	}
}

func TestSaveLoadRoundTrip(t *testing.T) {
	requireRoot(t)
	for _, format := range []Format{FormatDocker, FormatOCI} {
		t.Run(string(format), func(t *testing.T) {
			ctx := context.Background()
			src := newStore(t)
			img, err := src.Import(ctx, bytes.NewReader(layerTar(t, entry{name: "hello", typ: tar.TypeReg, body: "world"})), "example.com/x/hello:v1", ImportOptions{Config: v1.Config{Cmd: []string{"cat", "/hello"}}})
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			if err := src.Save(ctx, &buf, []string{"example.com/x/hello:v1"}, format); err != nil {
				t.Fatal(err)
			}
			names := tarNames(t, buf.Bytes())
			switch format {
			case FormatDocker:
				for _, want := range []string{"manifest.json", "repositories"} {
					if !names[want] {
						t.Errorf("docker archive lacks %s: %v", want, names)
					}
				}
			case FormatOCI:
				for _, want := range []string{"oci-layout", "index.json"} {
					if !names[want] {
						t.Errorf("OCI archive lacks %s: %v", want, names)
					}
				}
			}
			dst := newStore(t)
			loaded, err := dst.Load(ctx, &buf)
			if err != nil {
				t.Fatal(err)
			}
			if len(loaded) != 1 || loaded[0].ID != img.ID || loaded[0].Name != img.Name {
				t.Fatalf("loaded %+v, want ID %s name %s", loaded, img.ID, img.Name)
			}
			if strings.Join(loaded[0].Config.Config.Cmd, " ") != "cat /hello" {
				t.Errorf("config lost: %v", loaded[0].Config.Config.Cmd)
			}
		})
	}
}

func tarNames(t *testing.T, b []byte) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if err != nil {
			return out
		}
		out[h.Name] = true
	}
}

// A debootstrap image carries its own /dev; docker save of it failed to
// load with "./dev/full: device nodes are not accepted in layers". Its
// device nodes are left out, and the image says so once.
func TestDeviceNodesLeftOutWithAWarning(t *testing.T) {
	requireRoot(t)
	ctx := context.Background()
	o := newOneLayer(t,
		entry{name: "./", typ: tar.TypeDir, mode: 0o755},
		entry{name: "./dev/", typ: tar.TypeDir, mode: 0o755},
		entry{name: "./dev/full", typ: tar.TypeChar, mode: 0o666},
		entry{name: "./dev/null", typ: tar.TypeChar, mode: 0o666},
		entry{name: "./dev/loop0", typ: tar.TypeBlock, mode: 0o660},
		entry{name: "./dev/null2", typ: tar.TypeLink, link: "./dev/null"},
		entry{name: "./dev/fd", typ: tar.TypeSymlink, link: "/proc/self/fd"},
		entry{name: "./etc/", typ: tar.TypeDir, mode: 0o755},
		entry{name: "./etc/hostname", typ: tar.TypeReg, body: "debian\n"},
	)
	s := newStore(t)
	imgs, err := s.Load(ctx, bytes.NewReader(dockerArchive(t, o, []string{"debian:debootstrap"})))
	if err != nil {
		t.Fatal(err)
	}
	if len(imgs) != 1 || len(imgs[0].Warnings) != 1 {
		t.Fatalf("loaded %d images, warnings %q; want one warning", len(imgs), imgs[0].Warnings)
	}
	for _, want := range []string{"4 device nodes", "./dev/full", "own /dev"} {
		if !strings.Contains(imgs[0].Warnings[0], want) {
			t.Errorf("warning %q does not say %q", imgs[0].Warnings[0], want)
		}
	}
	snaps, err := s.Snapshots(ctx, imgs[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, gone := range []string{"dev/full", "dev/null", "dev/loop0", "dev/null2"} {
		if _, err := os.Lstat(filepath.Join(snaps[0], gone)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s unpacked: %v", gone, err)
		}
	}
	for _, kept := range []string{"dev/fd", "etc/hostname"} {
		if _, err := os.Lstat(filepath.Join(snaps[0], kept)); err != nil {
			t.Errorf("%s: %v", kept, err)
		}
	}
	// The layer is unpacked once, and said so once.
	again, err := s.Import(ctx, bytes.NewReader(o.layer), "debian:again", ImportOptions{})
	if err != nil || len(again.Warnings) != 0 {
		t.Errorf("the same layer again: warnings %q, %v", again.Warnings, err)
	}
}

// A build's steps are unnamed images that are the parents of the next:
// intermediates, which image ls shows only with -a. An unnamed image that
// nothing was built from (a build's old result) is dangling, and shown.
func TestIntermediates(t *testing.T) {
	requireRoot(t)
	ctx := context.Background()
	s := newStore(t)
	base, err := s.Import(ctx, bytes.NewReader(layerTar(t, entry{name: "base", typ: tar.TypeReg, body: "b"})), "base", ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	step := func(parent *Image, body, name string) *Image {
		t.Helper()
		var layer io.Reader
		if body != "" {
			layer = bytes.NewReader(layerTar(t, entry{name: body, typ: tar.TypeReg, body: body}))
		}
		img, err := s.Commit(ctx, CommitOptions{Parent: parent, Layer: layer, Name: name, History: v1.History{CreatedBy: "step " + body}})
		if err != nil {
			t.Fatal(err)
		}
		return img
	}
	run := step(base, "run", "")
	env := step(run, "", "")
	final := step(env, "copy", "built/app")
	old := step(base, "old", "")
	imgs, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := Intermediates(imgs)
	want := map[string]bool{run.ID: true, env.ID: true}
	if len(got) != len(want) || !got[run.ID] || !got[env.ID] {
		t.Errorf("intermediates %v, want %v (base %s, final %s, old %s)", got, want, base.ID, final.ID, old.ID)
	}
}
