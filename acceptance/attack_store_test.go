package acceptance

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/busybox"
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
		tw.WriteHeader(h)
		io.Copy(tw, tr)
	}
	tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "bin/euid", Mode: 0o4755, Size: int64(len(euid))})
	tw.Write(euid)
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
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
