package acceptance

import (
	"archive/tar"
	"bytes"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berthdev/berth/internal/busybox"
)

// debootstrapLayer is busybox's root file system with the /dev that
// debootstrap leaves in a Debian root file system.
func debootstrapLayer(t *testing.T) []byte {
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
		h.Name = "./" + h.Name
		tw.WriteHeader(h)
		io.Copy(tw, tr)
	}
	for _, d := range []struct {
		name         string
		typ          byte
		major, minor int64
	}{
		{"./dev/full", tar.TypeChar, 1, 7}, {"./dev/null", tar.TypeChar, 1, 3}, {"./dev/zero", tar.TypeChar, 1, 5},
		{"./dev/random", tar.TypeChar, 1, 8}, {"./dev/tty", tar.TypeChar, 5, 0}, {"./dev/console", tar.TypeChar, 5, 1},
		{"./dev/ptmx", tar.TypeChar, 5, 2}, {"./dev/loop0", tar.TypeBlock, 7, 0},
	} {
		tw.WriteHeader(&tar.Header{Name: d.name, Typeflag: d.typ, Mode: 0o666, Devmajor: d.major, Devminor: d.minor})
	}
	tw.WriteHeader(&tar.Header{Name: "./dev/fd", Typeflag: tar.TypeSymlink, Linkname: "/proc/self/fd", Mode: 0o777})
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// docker save of a Debian debootstrap image failed to load with
// "./dev/full: device nodes are not accepted in layers"; Docker loads it.
// The nodes are left out, once, with a warning: the container has its own
// /dev.
func TestLoadImageWithDeviceNodesInItsLayer(t *testing.T) {
	e := newEnv(t)
	m := handMadeImageOf(t, debootstrapLayer(t), []string{"sh"})
	r := e.berthIn(dockerArchive(t, m, []string{"debootstrap:12"}), "image", "load")
	if r.Code != 0 {
		t.Fatalf("image load: exit %d: %s", r.Code, r.Stderr)
	}
	if !strings.Contains(r.Stdout, "Loaded image: debootstrap:12") {
		t.Errorf("image load: %q", r.Stdout)
	}
	if n := strings.Count(r.Stderr, "WARNING:"); n != 1 || !strings.Contains(r.Stderr, "8 device nodes") || !strings.Contains(r.Stderr, "./dev/full") {
		t.Errorf("want one warning naming the device nodes, got %q", r.Stderr)
	}
	if nodes, _ := filepath.Glob(filepath.Join(e.Root, "snapshots", "*", "dev", "*")); len(nodes) != 1 || filepath.Base(nodes[0]) != "fd" {
		t.Errorf("the snapshot's /dev holds %v, want only the fd symlink", nodes)
	}
	e.writeFile("compose.yaml", "services:\n  s:\n    image: debootstrap:12\n")
	// /dev/full is the container's own: writing to it fails as it should.
	out := e.must("run", "--rm", "-T", "s", "sh", "-c", "test -c /dev/full && test -c /dev/null && if echo x > /dev/full; then echo wrote; else echo full; fi")
	if !strings.HasSuffix(out, "full\n") {
		t.Errorf("in the container: %q", out)
	}
	e.must("down")
}
