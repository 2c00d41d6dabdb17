package acceptance

import (
	"archive/tar"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berthdev/berth/internal/busybox"
)

// debootstrapLayer is busybox's root file system with the /dev that
// debootstrap leaves in a Debian root file system.
func debootstrapLayer(t *testing.T) []byte {
	t.Helper()
	return busyboxTarWith(t, "./", func(tw *tar.Writer) {
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
	})
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

// image ls listed a build's intermediate images as <none>; docker images
// shows them only with -a.
func TestImageLsShowsIntermediateImagesOnlyWithAll(t *testing.T) {
	e := newEnv(t)
	e.importBusybox("bb", busybox.Options{})
	e.writeFile("app/Dockerfile", "FROM bb\nRUN echo a > /a\nENV X=1\nRUN echo b > /b\nCMD [\"cat\", \"/a\"]\n")
	e.writeFile("compose.yaml", "services:\n  app:\n    build: ./app\n    image: built/app\n")
	e.must("build")
	names := func(args ...string) []string {
		var rows []struct{ Name string }
		if err := json.Unmarshal([]byte(e.must(append([]string{"image", "ls", "--format", "json"}, args...)...)), &rows); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range rows {
			out = append(out, r.Name)
		}
		return out
	}
	if got := strings.Join(names(), " "); got != "built/app:latest bb:latest" {
		t.Errorf("image ls: %s, want the two named images", got)
	}
	all := names("-a")
	if len(all) < 3 || !strings.Contains(strings.Join(all, " "), "<none>") {
		t.Errorf("image ls -a: %v, want the intermediate images too", all)
	}
	if q, qa := strings.Fields(e.must("image", "ls", "-q")), strings.Fields(e.must("image", "ls", "-q", "--all")); len(q) != 2 || len(qa) != len(all) {
		t.Errorf("image ls -q: %v; --all: %v", q, qa)
	}
}
