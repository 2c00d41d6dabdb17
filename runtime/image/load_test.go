package image

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sys/unix"
)

// leftovers lists the store's temporary files and directories.
func leftovers(t testing.TB, s *Store) []string {
	t.Helper()
	var out []string
	for dir, prefixes := range map[string][]string{
		filepath.Dir(s.root):                     {tmpLoadPrefix},
		filepath.Join(s.root, "blobs", "sha256"): {tmpBlobPrefix, tmpLayerPrefix},
		s.snap:                                   {tmpUnpackPrefix},
	} {
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			if slices.ContainsFunc(prefixes, func(p string) bool { return strings.HasPrefix(e.Name(), p) }) {
				out = append(out, filepath.Join(dir, e.Name()))
			}
		}
	}
	return out
}

// smallStore is a store on a 64 MB tmpfs when the test runs as root, so
// that a loader that reads without end fills that and fails, rather than
// the disk.
func smallStore(t *testing.T) *Store {
	t.Helper()
	dir := t.TempDir()
	if os.Geteuid() == 0 {
		if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=64m,mode=0700"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
	}
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Each archive the review found `image load` to trust is refused: no host
// file is read (nor its hash told), no disk filled, no stack overflowed,
// no invalid name taken, and nothing is left behind.
func TestLoadRefusesHostileArchives(t *testing.T) {
	secret := filepath.Join(t.TempDir(), "secret")
	content := []byte("root:$y$j9T$host-secret:19000:0:99999:7:::\n")
	if err := os.WriteFile(secret, content, 0o600); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(content)
	secretHash := hex.EncodeToString(sum[:])
	for _, tc := range hostileArchives(t, secret) {
		t.Run(tc.name, func(t *testing.T) {
			s := smallStore(t)
			imgs, err := s.Load(context.Background(), bytes.NewReader(tc.archive))
			if !errors.Is(err, tc.want) {
				t.Fatalf("Load: %v (images %v), want %v", err, imgs, tc.want)
			}
			if strings.Contains(err.Error(), secretHash) || strings.Contains(err.Error(), "host-secret") {
				t.Errorf("the error tells of the host file: %v", err)
			}
			if l := leftovers(t, s); len(l) > 0 {
				t.Errorf("left behind: %v", l)
			}
			if imgs, _ := s.List(context.Background()); len(imgs) != 0 {
				t.Errorf("images stored: %v", imgs)
			}
			if ents, _ := os.ReadDir(filepath.Join(s.root, "blobs", "sha256")); len(ents) != 0 {
				t.Errorf("blobs stored: %v", ents)
			}
		})
	}
}

// docker save links a layer two images share; such links are followed
// within the archive.
func TestLoadFollowsLinksWithinTheArchive(t *testing.T) {
	requireRoot(t)
	o := newOneLayer(t)
	layerName := hashOf(o.layer).Hex + "/layer.tar"
	for name, archive := range map[string][]byte{
		"docker layer linked from another directory": dockerArchive(t, o, []string{"example.com/x:v1"},
			entry{name: "shared/", typ: tar.TypeDir, mode: 0o755},
			entry{name: "shared/layer.tar", typ: tar.TypeReg, body: string(o.layer)},
			entry{name: layerName, typ: tar.TypeSymlink, link: "../shared/layer.tar"}),
		"docker layer hard-linked": dockerArchive(t, o, []string{"example.com/x:v1"},
			entry{name: "shared.tar", typ: tar.TypeReg, body: string(o.layer)},
			entry{name: layerName, typ: tar.TypeLink, link: "shared.tar"}),
		"oci blob linked": ociArchive(t, ociIndex(t, func() v1.Descriptor {
			d := o.manifestD
			d.Annotations = map[string]string{"io.containerd.image.name": "example.com/x:v1"}
			return d
		}()), entry{name: "layer", typ: tar.TypeReg, body: string(o.layer)}, blobLink(o.layerD, "../../layer"), blobEntry(o.config), blobEntry(o.manifest)),
	} {
		t.Run(name, func(t *testing.T) {
			s := newStore(t)
			imgs, err := s.Load(context.Background(), bytes.NewReader(archive))
			if err != nil {
				t.Fatal(err)
			}
			if len(imgs) != 1 || imgs[0].Name != "example.com/x:v1" || imgs[0].DiffIDs[0] != hashOf(o.layer).String() {
				t.Fatalf("loaded %+v", imgs)
			}
			snaps, err := s.Snapshots(context.Background(), imgs[0])
			if err != nil {
				t.Fatal(err)
			}
			if b, err := os.ReadFile(filepath.Join(snaps[0], "hello")); err != nil || string(b) != "world" {
				t.Errorf("hello: %q %v", b, err)
			}
		})
	}
}

// An index that lists itself (were its digest ever to match) is refused
// as a cycle instead of recursing until the stack overflows.
func TestPickManifestRefusesCycles(t *testing.T) {
	self := v1.Descriptor{MediaType: types.OCIImageIndex, Digest: hashOf([]byte("self")), Size: 1}
	other := v1.Descriptor{MediaType: types.OCIImageIndex, Digest: hashOf([]byte("other")), Size: 1}
	blobs := map[v1.Hash][]byte{self.Digest: ociIndex(t, other), other.Digest: ociIndex(t, self)}
	blob := func(d v1.Descriptor) ([]byte, error) { return blobs[d.Digest], nil }
	for _, start := range []v1.Descriptor{self, other} {
		if _, err := pickManifest(start, blob, 0, map[v1.Hash]bool{}); !errors.Is(err, ErrArchive) {
			t.Errorf("from %s: %v, want a refused cycle", start.Digest, err)
		}
	}
}

// A berth killed while it wrote a blob, unpacked a layer or read an
// archive leaves a temporary file or directory; the next Open removes it,
// but not one another berth is still writing.
func TestOpenRemovesLeftoversOfKilledWrites(t *testing.T) {
	s := newStore(t)
	root := filepath.Dir(s.root)
	blobs := filepath.Join(s.root, "blobs", "sha256")
	killed := []string{
		filepath.Join(root, tmpLoadPrefix+"1"),
		filepath.Join(blobs, tmpBlobPrefix+"1"),
		filepath.Join(blobs, tmpLayerPrefix+"1"),
		filepath.Join(s.snap, tmpUnpackPrefix+"1"),
	}
	for _, p := range killed {
		if strings.Contains(filepath.Base(p), "load") || strings.Contains(filepath.Base(p), "unpack") {
			os.MkdirAll(filepath.Join(p, "sub"), 0o700)
			os.WriteFile(filepath.Join(p, "sub", "f"), []byte("x"), 0o600)
		} else {
			os.WriteFile(p, []byte("partial"), 0o600)
		}
	}
	busyFile, err := createTemp(blobs, tmpBlobPrefix)
	if err != nil {
		t.Fatal(err)
	}
	defer busyFile.Close()
	busyDir, release, err := mkdirTemp(root, tmpLoadPrefix)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	if _, err := Open(root); err != nil {
		t.Fatal(err)
	}
	for _, p := range killed {
		if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left: %v", p, err)
		}
	}
	for _, p := range []string{busyFile.Name(), busyDir} {
		if _, err := os.Lstat(p); err != nil {
			t.Errorf("%s in use was removed: %v", p, err)
		}
	}
}

// A load that fails once blobs are being written removes its temporary
// files and directories, and the error does not tell what the content
// hashes to.
func TestFailedLoadLeavesNothing(t *testing.T) {
	s := newStore(t)
	o := newOneLayer(t)
	bad := o.layerD
	bad.Digest = hashOf([]byte("not the layer"))
	m := mustJSON(t, v1.Manifest{SchemaVersion: 2, MediaType: types.OCIManifestSchema1, Config: o.configD, Layers: []v1.Descriptor{bad}})
	archive := ociArchive(t, ociIndex(t, descOf(types.OCIManifestSchema1, m)),
		entry{name: "blobs/sha256/" + bad.Digest.Hex, typ: tar.TypeReg, body: string(o.layer)}, blobEntry(o.config), blobEntry(m))
	_, err := s.Load(context.Background(), bytes.NewReader(archive))
	if !errors.Is(err, ErrDigest) {
		t.Fatalf("Load: %v, want a digest mismatch", err)
	}
	if strings.Contains(err.Error(), hashOf(o.layer).Hex) {
		t.Errorf("the error tells what the content hashes to: %v", err)
	}
	if l := leftovers(t, s); len(l) > 0 {
		t.Errorf("left behind: %v", l)
	}
}
