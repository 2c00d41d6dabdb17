package acceptance

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// publicDir returns a new directory every user can traverse, as /var/lib
// is, so that a store placed in it is as exposed as /var/lib/berth (a
// t.TempDir is 0700 and would hide what the test looks for). It is
// registered for removal before newEnv registers its leak check, so it
// outlives that check.
func publicDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "berth-public-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// asNobody runs a program as user nobody with no groups: a local user
// without privileges. The child changes its IDs before execve, so the
// kernel looks the path up with nobody's rights (setpriv keeps root's
// capabilities until its execve has found the file).
func asNobody(path string) (string, error) {
	cmd := exec.Command(path)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534, Groups: []uint32{}}}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// withSetuidEuid is busybox's root file system with a setuid-root copy of
// testdata/euid at bin/euid.
func withSetuidEuid(t *testing.T, euid []byte) []byte {
	t.Helper()
	return busyboxTarWith(t, "", func(tw *tar.Writer) {
		tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "bin/euid", Mode: 0o4755, Size: int64(len(euid))})
		tw.Write(euid)
	})
}

// setuidStore is a store under a world-traversable directory with setuid
// root programs where images and containers put them: in a layer's
// snapshot, in a running container's merged root and upper directory, and
// in a volume's data. paths names each.
type setuidStore struct {
	*env
	paths     map[string]string
	container string // the container's directory
	volume    string // the volume's directory
}

func newSetuidStore(t *testing.T) *setuidStore {
	t.Helper()
	pub := publicDir(t)
	e := newEnv(t)
	e.Root, e.State = filepath.Join(pub, "root"), filepath.Join(pub, "state")
	euid := staticBinary(t, "./testdata/euid")

	// The attack works on this machine when nothing stands in the way: a
	// setuid copy in a public place makes nobody root.
	control := filepath.Join(pub, "control-euid")
	if err := os.WriteFile(control, euid, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(control, os.ModeSetuid|0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := asNobody(control); err != nil || !strings.Contains(out, "uid=65534 euid=0") {
		t.Fatalf("a setuid-root program run as nobody outside the store: %q %v (the test cannot see the attack)", out, err)
	}
	os.Remove(control)

	if r := e.berthIn(withSetuidEuid(t, euid), "image", "import", "-", "suid"); r.Code != 0 {
		t.Fatalf("image import: %s", r.Stderr)
	}
	e.writeFile("compose.yaml", `
services:
  s:
    image: suid
    command: ["sh", "-c", "cp /bin/euid /made && chmod 4755 /made && cp /bin/euid /data/made && chmod 4755 /data/made && touch /ready && exec sleep 1000"]
    volumes: [vol:/data]
volumes:
  vol:
`)
	e.must("up", "-d")
	var ready []string
	e.eventually(20*time.Second, "the container to make its setuid copies", func() bool {
		ready, _ = filepath.Glob(filepath.Join(e.Root, "containers", "*", "upper", "ready"))
		return len(ready) == 1
	})
	s := &setuidStore{env: e, container: filepath.Dir(filepath.Dir(ready[0])), volume: filepath.Join(e.Root, "volumes", e.Project+"_vol")}
	snaps, _ := filepath.Glob(filepath.Join(e.Root, "snapshots", "*", "bin", "euid"))
	if len(snaps) != 1 {
		t.Fatalf("snapshots with bin/euid: %v", snaps)
	}
	s.paths = map[string]string{
		"layer snapshot":          snaps[0],
		"container root":          filepath.Join(s.container, "rootfs", "made"),
		"container upper":         filepath.Join(s.container, "upper", "made"),
		"image file through root": filepath.Join(s.container, "rootfs", "bin", "euid"),
		"volume data":             filepath.Join(s.volume, "_data", "made"),
	}
	for what, p := range s.paths {
		if fi, err := os.Stat(p); err != nil || fi.Mode()&os.ModeSetuid == 0 || fi.Sys() == nil {
			t.Fatalf("%s: no setuid program at %s: %v %v", what, p, fi, err)
		}
	}
	return s
}

// checkUnreachable runs every setuid program of the store as nobody: each
// must fail for want of permission, not for want of a file.
func (s *setuidStore) checkUnreachable() {
	s.t.Helper()
	for what, p := range s.paths {
		out, err := asNobody(p)
		if !errors.Is(err, fs.ErrPermission) || strings.Contains(out, "euid=0") {
			s.t.Errorf("%s: nobody ran %s: %q (err %v), want permission denied", what, p, out, err)
		}
	}
}

func (s *setuidStore) checkPrivate(dirs ...string) {
	s.t.Helper()
	for _, d := range dirs {
		fi, err := os.Stat(d)
		if err != nil {
			s.t.Error(err)
			continue
		}
		if perm := fi.Mode().Perm(); perm&0o077 != 0 {
			s.t.Errorf("%s is %o: other users reach into it", d, perm)
		}
	}
}

// topDirs are the directories berth makes private each time it opens a
// store; what is below them is out of reach through them.
func (s *setuidStore) topDirs() []string {
	return []string{s.Root, s.State, filepath.Join(s.State, "runc"), filepath.Join(s.Root, "images"),
		filepath.Join(s.Root, "snapshots"), filepath.Join(s.Root, "containers"), filepath.Join(s.Root, "volumes")}
}

// Docker's CVE-2021-41091: with a world-traversable store, any local user
// ran an image's setuid-root program from the snapshot (or one a container's
// root made, from its upper directory or a volume) and became root.
func TestStoreSetuidFilesUnreachableByOtherUsers(t *testing.T) {
	s := newSetuidStore(t)
	s.checkPrivate(append(s.topDirs(), s.container, s.volume)...)
	s.checkUnreachable()
}

// A store made by an older berth (root and snapshots 0755, containers 0711)
// is tightened the next time berth opens it.
func TestStoreOfOlderBerthTightenedOnOpen(t *testing.T) {
	s := newSetuidStore(t)
	old := map[string]os.FileMode{
		s.Root: 0o755, s.State: 0o711, filepath.Join(s.State, "runc"): 0o711,
		filepath.Join(s.Root, "images"): 0o755, filepath.Join(s.Root, "snapshots"): 0o755,
		filepath.Join(s.Root, "containers"): 0o711, s.container: 0o711,
		filepath.Join(s.Root, "volumes"): 0o755, s.volume: 0o755,
	}
	for d, m := range old {
		if err := os.Chmod(d, m); err != nil {
			t.Fatal(err)
		}
	}
	// What those modes let a local user do.
	if out, err := asNobody(s.paths["layer snapshot"]); err != nil || !strings.Contains(out, "euid=0") {
		t.Fatalf("the older layout is not exploitable here: %q %v", out, err)
	}
	s.must("image", "ls")
	s.checkPrivate(s.Root, filepath.Join(s.Root, "images"), filepath.Join(s.Root, "snapshots"))
	s.checkUnreachable()
	s.must("ps")
	s.checkPrivate(s.topDirs()...)
	s.checkUnreachable()
}

// archiveEntry is one member of a hand-made archive: a file, or a link
// when link is set.
type archiveEntry struct {
	name, body, link string
	typ              byte
}

func tarBytes(t *testing.T, entries ...archiveEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Linkname: e.link, Typeflag: e.typ, Mode: 0o644}
		if e.typ == tar.TypeReg {
			h.Size = int64(len(e.body))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(e.body))
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func jsonBytes(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func descriptor(mediaType string, b []byte) map[string]any {
	return map[string]any{"mediaType": mediaType, "digest": "sha256:" + sha256hex(b), "size": len(b)}
}

func blobFile(b []byte) archiveEntry {
	return archiveEntry{name: "blobs/sha256/" + sha256hex(b), body: string(b), typ: tar.TypeReg}
}

// handMadeImage is a one-layer image's layer, config and manifest.
type handMadeImage struct{ layer, config, manifest []byte }

func newHandMadeImage(t *testing.T) handMadeImage {
	return handMadeImageOf(t, tarBytes(t, archiveEntry{name: "hello", body: "world", typ: tar.TypeReg}), []string{"cat", "/hello"})
}

// handMadeImageOf is the image of one layer that runs cmd.
func handMadeImageOf(t *testing.T, layer []byte, cmd []string) handMadeImage {
	m := handMadeImage{layer: layer}
	m.config = jsonBytes(t, map[string]any{"architecture": goruntime.GOARCH, "os": "linux",
		"config": map[string]any{"Cmd": cmd, "Env": []string{"PATH=/bin:/usr/bin:/sbin:/usr/sbin"}},
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{"sha256:" + sha256hex(m.layer)}}})
	m.manifest = jsonBytes(t, map[string]any{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
		"config": descriptor("application/vnd.oci.image.config.v1+json", m.config),
		"layers": []any{descriptor("application/vnd.oci.image.layer.v1.tar", m.layer)}})
	return m
}

// ociArchive is an OCI archive whose index.json lists manifests.
func ociArchive(t *testing.T, manifests []any, entries ...archiveEntry) []byte {
	index := jsonBytes(t, map[string]any{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": manifests})
	return tarBytes(t, append([]archiveEntry{
		{name: "oci-layout", body: `{"imageLayoutVersion":"1.0.0"}`, typ: tar.TypeReg},
		{name: "index.json", body: string(index), typ: tar.TypeReg},
	}, entries...)...)
}

// dockerArchive is a docker-archive of m tagged with tags, with entries in
// place of its manifest.json or added.
func dockerArchive(t *testing.T, m handMadeImage, tags []string, entries ...archiveEntry) []byte {
	layer := sha256hex(m.layer) + "/layer.tar"
	cfg := sha256hex(m.config) + ".json"
	manifest := archiveEntry{name: "manifest.json", body: string(jsonBytes(t, []any{map[string]any{"Config": cfg, "RepoTags": tags, "Layers": []string{layer}}})), typ: tar.TypeReg}
	all := []archiveEntry{{name: layer, body: string(m.layer), typ: tar.TypeReg}, {name: cfg, body: string(m.config), typ: tar.TypeReg}}
	for _, e := range entries {
		if e.name == "manifest.json" {
			manifest = e
		} else {
			all = append(all, e)
		}
	}
	return tarBytes(t, append(all, manifest)...)
}

// loadLeftovers lists what loads left in the store: archives being read,
// blobs being written, layers being unpacked.
func loadLeftovers(root string) []string {
	var out []string
	for _, pattern := range []string{".load-*", "images/blobs/sha256/.tmp-*", "images/blobs/sha256/.layer-*", "snapshots/.unpack-*"} {
		m, _ := filepath.Glob(filepath.Join(root, pattern))
		out = append(out, m...)
	}
	return out
}

// checkRefused checks that a load failed as berth's own error (not a
// crash), stored nothing and left nothing behind.
func (e *env) checkRefused(r result, want string) {
	e.t.Helper()
	if r.Code != 1 || strings.Contains(r.Stderr, "goroutine ") || !strings.Contains(r.Stderr, want) {
		e.t.Errorf("image load: exit %d, stderr %q; want exit 1 and %q", r.Code, r.Stderr, want)
	}
	if l := loadLeftovers(e.Root); len(l) > 0 {
		e.t.Errorf("left behind: %v", l)
	}
	if ids := strings.Fields(e.must("image", "ls", "-q")); len(ids) > 0 {
		e.t.Errorf("images stored: %v", ids)
	}
}

// An OCI blob that is a symlink to /dev/zero made `image load` write
// without end (2 GB in 8 s). The store is put on a small tmpfs so that a
// regression fills that rather than the disk.
func TestLoadRefusesBlobLinkedToDevZero(t *testing.T) {
	e := newEnv(t)
	if err := unix.Mount("tmpfs", e.Root, "tmpfs", 0, "size=256m,mode=0700"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Unmount(e.Root, unix.MNT_DETACH) })
	m := newHandMadeImage(t)
	archive := ociArchive(t, []any{descriptor("application/vnd.oci.image.manifest.v1+json", m.manifest)},
		archiveEntry{name: "blobs/sha256/" + sha256hex(m.layer), link: "/dev/zero", typ: tar.TypeSymlink},
		blobFile(m.config), blobFile(m.manifest))
	e.checkRefused(e.berthIn(archive, "image", "load"), "link to /dev/zero leaves the archive")
}

// Archives whose members are symlinks to /etc/shadow had it read, and the
// digest error told its sha256.
func TestLoadDoesNotReadHostFilesThroughLinks(t *testing.T) {
	shadow, err := os.ReadFile("/etc/shadow")
	if err != nil {
		t.Fatal(err)
	}
	m := newHandMadeImage(t)
	toShadow := func(name string) archiveEntry {
		return archiveEntry{name: name, link: "/etc/shadow", typ: tar.TypeSymlink}
	}
	for name, archive := range map[string][]byte{
		"oci config blob": ociArchive(t, []any{descriptor("application/vnd.oci.image.manifest.v1+json", m.manifest)},
			blobFile(m.layer), toShadow("blobs/sha256/"+sha256hex(m.config)), blobFile(m.manifest)),
		"oci blob by ../": ociArchive(t, []any{descriptor("application/vnd.oci.image.manifest.v1+json", m.manifest)},
			blobFile(m.layer), archiveEntry{name: "blobs/sha256/" + sha256hex(m.config), link: "../../../../../../../../etc/shadow", typ: tar.TypeSymlink}, blobFile(m.manifest)),
		"docker manifest.json": dockerArchive(t, m, []string{"x:v1"}, toShadow("manifest.json")),
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			r := e.berthIn(archive, "image", "load")
			e.checkRefused(r, "leaves the archive")
			if strings.Contains(r.Stderr, sha256hex(shadow)) || strings.Contains(r.Stderr, "invalid character") {
				t.Errorf("the error tells of /etc/shadow: %s", r.Stderr)
			}
		})
	}
}

// An OCI index that lists itself overflowed the stack: exit 2 and a
// goroutine dump after 10 s and 1.35 GB.
func TestLoadRefusesSelfListingIndex(t *testing.T) {
	e := newEnv(t)
	// The index is stored under a digest that is not its own: no content
	// can name itself by its hash.
	fake := sha256hex([]byte("self"))
	self := map[string]any{"mediaType": "application/vnd.oci.image.index.v1+json", "digest": "sha256:" + fake, "size": 0}
	var content []byte
	for size := -1; size != len(content); {
		size = len(content)
		self["size"] = size
		content = jsonBytes(t, map[string]any{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": []any{self}})
	}
	archive := ociArchive(t, []any{self}, archiveEntry{name: "blobs/sha256/" + fake, body: string(content), typ: tar.TypeReg})
	e.checkRefused(e.berthIn(archive, "image", "load"), "digest mismatch")
}

// A RepoTag ../../../etc:latest was taken as a name; Docker refuses it.
func TestLoadRefusesInvalidRepoTag(t *testing.T) {
	e := newEnv(t)
	m := newHandMadeImage(t)
	e.checkRefused(e.berthIn(dockerArchive(t, m, []string{"../../../etc:latest"}), "image", "load"), "invalid reference format")
	// The same archive with a valid tag loads: the refusal is the tag's.
	if out := e.mustIn(dockerArchive(t, m, []string{"example.com/x:v1"}), "image", "load"); !strings.Contains(out, "example.com/x:v1") {
		t.Errorf("image load: %q", out)
	}
}

// A load killed while it reads the archive leaves its directory; the next
// berth to open the store removes it.
func TestKilledLoadLeftoversRemovedOnNextOpen(t *testing.T) {
	e := newEnv(t)
	cmd := exec.Command(binary, "--root", e.Root, "--state", e.State, "image", "load")
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// A member announced as 64 MB of which only the start arrives.
	tw := tar.NewWriter(in)
	tw.WriteHeader(&tar.Header{Name: "big", Typeflag: tar.TypeReg, Mode: 0o644, Size: 64 << 20})
	tw.Write(make([]byte, 1<<20))
	e.eventually(10*time.Second, "the load to unpack the archive", func() bool {
		m, _ := filepath.Glob(filepath.Join(e.Root, ".load-*", "big"))
		return len(m) == 1
	})
	cmd.Process.Kill()
	cmd.Wait()
	if len(loadLeftovers(e.Root)) == 0 {
		t.Fatal("the killed load left nothing to clean up: the test shows nothing")
	}
	e.must("image", "ls")
	if l := loadLeftovers(e.Root); len(l) > 0 {
		t.Errorf("left after the next open: %v", l)
	}
}
