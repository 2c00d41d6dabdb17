// Package busybox writes a small root file system around the host's static
// busybox (Debian's busybox-static), for tests, benchmarks and the demo.
//
// `busybox --install -s` would write symlinks to absolute host paths, so the
// applet links are written here by hand, relative to /bin, and the result is
// the same on every machine.
package busybox

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"time"
)

// ErrNotInstalled reports that no static busybox binary was found.
var ErrNotInstalled = errors.New("static busybox not found: install Debian's busybox-static")

// Binary returns the path of a statically linked busybox on the host.
func Binary() (string, error) {
	for _, p := range []string{"/bin/busybox", "/usr/bin/busybox"} {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p, nil
		}
	}
	return "", ErrNotInstalled
}

// Options adds files to the root file system.
type Options struct {
	// Files maps a path in the image (no leading slash) to its content,
	// written with mode 0644 (0755 when the path is under bin/).
	Files map[string][]byte
	// Dirs adds directories with their own owner and mode.
	Dirs map[string]Dir
}

// Dir is a directory's owner and mode.
type Dir struct {
	Mode     int64
	UID, GID int
}

// Tar writes a root file system as an uncompressed tar stream: bin/busybox,
// a relative link per applet, /etc/passwd and /etc/group with root, nobody
// and a user "app" (uid 1000), and the usual empty directories.
func Tar(w io.Writer, opts Options) error {
	bin, err := Binary()
	if err != nil {
		return err
	}
	body, err := os.ReadFile(bin)
	if err != nil {
		return fmt.Errorf("reading busybox: %w", err)
	}
	applets, err := exec.Command(bin, "--list").Output()
	if err != nil {
		return fmt.Errorf("listing busybox applets: %w", err)
	}
	mtime := time.Unix(1700000000, 0)
	tw := tar.NewWriter(w)
	dir := func(name string, mode int64) error {
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: mode, ModTime: mtime})
	}
	file := func(name string, mode int64, data []byte) error {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(data)), ModTime: mtime}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	for _, d := range []string{"bin", "dev", "etc", "home", "home/app", "proc", "root", "sys", "usr", "usr/bin", "usr/sbin", "sbin", "var", "var/tmp", "run"} {
		if err := dir(d, 0o755); err != nil {
			return err
		}
	}
	if err := dir("tmp", 0o1777); err != nil {
		return err
	}
	if err := file("bin/busybox", 0o755, body); err != nil {
		return err
	}
	for _, a := range strings.Fields(string(applets)) {
		if a == "busybox" {
			continue
		}
		for _, d := range []string{"bin", "sbin", "usr/bin", "usr/sbin"} {
			target := "busybox"
			if d != "bin" {
				target = strings.Repeat("../", strings.Count(d, "/")+1) + "bin/busybox"
			}
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: d + "/" + a, Linkname: target, Mode: 0o777, ModTime: mtime}); err != nil {
				return err
			}
		}
	}
	files := map[string][]byte{
		"etc/passwd": []byte("root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"),
		"etc/group":  []byte("root:x:0:\napp:x:1000:\nstaff:x:50:app\nnogroup:x:65534:\n"),
	}
	for k, v := range opts.Files {
		files[k] = v
	}
	seen := map[string]bool{}
	for name, d := range opts.Dirs {
		seen[name] = true
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: d.Mode, Uid: d.UID, Gid: d.GID, ModTime: mtime}); err != nil {
			return err
		}
	}
	for name, data := range files {
		for d := path.Dir(name); d != "." && !seen[d]; d = path.Dir(d) {
			seen[d] = true
			if err := dir(d, 0o755); err != nil {
				return err
			}
		}
		mode := int64(0o644)
		if strings.HasPrefix(name, "bin/") {
			mode = 0o755
		}
		if err := file(name, mode, data); err != nil {
			return err
		}
	}
	return tw.Close()
}

// TarBytes is Tar into memory.
func TarBytes(opts Options) ([]byte, error) {
	var buf bytes.Buffer
	if err := Tar(&buf, opts); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Unpack writes the root file system into dir, standing in for an image
// snapshot in tests that use the runtime without the image store.
func Unpack(dir string, opts Options) error {
	b, err := TarBytes(opts)
	if err != nil {
		return err
	}
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		p := filepath.Join(dir, h.Name)
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(p, 0o755); err != nil {
				return err
			}
			if err := os.Chmod(p, os.FileMode(h.Mode&0o777)|sticky(h.Mode)); err != nil {
				return err
			}
		case tar.TypeSymlink:
			if err := os.Symlink(h.Linkname, p); err != nil {
				return err
			}
		case tar.TypeReg:
			f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, os.FileMode(h.Mode))
			if err != nil {
				return err
			}
			_, err = io.Copy(f, tr)
			f.Close()
			if err != nil {
				return err
			}
		}
	}
}

func sticky(mode int64) os.FileMode {
	if mode&0o1000 != 0 {
		return os.ModeSticky
	}
	return 0
}
