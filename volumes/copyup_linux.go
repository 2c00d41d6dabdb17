package volumes

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	securejoin "github.com/cyphar/filepath-securejoin"
	"golang.org/x/sys/unix"
)

// CopyUp fills an empty volume directory with what the image has at target,
// keeping owners, modes, times, symlinks and extended attributes, as
// Docker does on a volume's first use. layers are the image's snapshot
// directories, lowest first, with overlay whiteouts; the merged view is
// read by mounting them read-only for the copy. Nothing is copied when the
// image has nothing there, or when the volume is not empty.
//
// The image is not trusted: target is resolved inside the image, its
// symlinks followed as if the image's root were / (where the container
// will see the mount), and the copy never follows a symlink, so no link in
// the image can make it read the host's files.
func CopyUp(dst string, layers []string, target string) error {
	if len(layers) == 0 {
		return nil
	}
	if ents, err := os.ReadDir(dst); err != nil || len(ents) > 0 {
		return err
	}
	view, err := os.MkdirTemp("", "berth-copyup-")
	if err != nil {
		return err
	}
	defer os.Remove(view)
	lowers := make([]string, 0, len(layers)+1)
	for i := len(layers) - 1; i >= 0; i-- {
		lowers = append(lowers, layers[i])
	}
	if len(lowers) == 1 {
		// overlayfs wants two lower layers without an upper one.
		empty, err := os.MkdirTemp("", "berth-empty-")
		if err != nil {
			return err
		}
		defer os.Remove(empty)
		lowers = append(lowers, empty)
	}
	if err := unix.Mount("overlay", view, "overlay", unix.MS_RDONLY, "lowerdir="+strings.Join(lowers, ":")); err != nil {
		return fmt.Errorf("reading the image for copy-up: %w", err)
	}
	defer unix.Unmount(view, unix.MNT_DETACH)
	return copyUpFrom(view, target, dst)
}

// copyUpFrom copies target, resolved inside the image root view, into the
// empty directory dst.
func copyUpFrom(view, target, dst string) error {
	// The view is read-only and nothing else changes the layers under it,
	// so the symlink-free path SecureJoin gives stays that way.
	src, err := securejoin.SecureJoin(view, target)
	if err != nil {
		return fmt.Errorf("resolving %s in the image: %w", target, err)
	}
	fi, err := os.Lstat(src)
	if err != nil || !fi.IsDir() {
		// Nothing there, or not a directory: Docker copies nothing either.
		return nil
	}
	from, err := os.OpenRoot(src)
	if err != nil {
		return err
	}
	defer from.Close()
	to, err := os.OpenRoot(dst)
	if err != nil {
		return err
	}
	defer to.Close()
	c := copier{from: from, fromDir: src, to: to}
	if err := c.tree(); err != nil {
		return fmt.Errorf("copying %s from the image into the volume: %w", target, err)
	}
	// The volume's root takes the owner and mode of the image's directory.
	return c.meta(".", fi)
}

// copier copies a tree between two roots without following symlinks in
// either: every name is looked up inside its root, and entries are created
// with O_EXCL semantics in the empty destination.
type copier struct {
	from    *os.Root
	fromDir string // from's path on the host, for reading extended attributes
	to      *os.Root
}

func (c copier) tree() error {
	// fs.WalkDir descends only into entries whose directory entry type
	// is a directory, so a symlink to a directory is copied as a symlink.
	return fs.WalkDir(c.from.FS(), ".", func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == "." {
			return nil
		}
		fi, err := c.from.Lstat(p)
		if err != nil {
			return err
		}
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			link, err := c.from.Readlink(p)
			if err != nil {
				return err
			}
			if err := c.to.Symlink(link, p); err != nil {
				return err
			}
		case fi.IsDir():
			if err := c.to.Mkdir(p, 0o700); err != nil {
				return err
			}
		case fi.Mode().IsRegular():
			if err := c.file(p); err != nil {
				return err
			}
		default:
			if err := c.node(p, fi); err != nil {
				return err
			}
		}
		return c.meta(p, fi)
	})
}

func (c copier) file(p string) error {
	in, err := c.from.Open(p)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := c.to.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// node makes a device node, FIFO or socket, relative to its parent's
// descriptor in the destination.
func (c copier) node(p string, fi fs.FileInfo) error {
	dir, err := c.to.Open(path.Dir(p))
	if err != nil {
		return err
	}
	defer dir.Close()
	st := fi.Sys().(*syscall.Stat_t)
	return unix.Mknodat(int(dir.Fd()), path.Base(p), st.Mode, int(st.Rdev))
}

// meta copies owner, mode, extended attributes and times.
func (c copier) meta(p string, fi fs.FileInfo) error {
	st := fi.Sys().(*syscall.Stat_t)
	if err := c.to.Lchown(p, int(st.Uid), int(st.Gid)); err != nil {
		return err
	}
	ts := []unix.Timespec{unix.NsecToTimespec(st.Atim.Nano()), unix.NsecToTimespec(st.Mtim.Nano())}
	if fi.Mode()&fs.ModeSymlink != 0 {
		dir, err := c.to.Open(path.Dir(p))
		if err != nil {
			return err
		}
		defer dir.Close()
		return unix.UtimesNanoAt(int(dir.Fd()), path.Base(p), ts, unix.AT_SYMLINK_NOFOLLOW)
	}
	// Chmod after chown: a chown clears the setuid and setgid bits.
	if err := c.to.Chmod(p, fi.Mode()&(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky)); err != nil {
		return err
	}
	if fi.IsDir() || fi.Mode().IsRegular() {
		// Opening a FIFO or a device could block or act on hardware, so
		// only files and directories keep their extended attributes.
		f, err := c.to.Open(p)
		if err != nil {
			return err
		}
		copyXattrs(filepath.Join(c.fromDir, p), f)
		f.Close()
	}
	return c.to.Chtimes(p, timeOf(ts[0]), timeOf(ts[1]))
}

// copyXattrs copies the extended attributes of src (a path in the
// read-only image view, whose directories are all real) to dst.
func copyXattrs(src string, dst *os.File) {
	buf := make([]byte, 4096)
	n, err := unix.Llistxattr(src, buf)
	if err != nil || n <= 0 {
		return
	}
	for _, name := range strings.Split(strings.TrimRight(string(buf[:n]), "\x00"), "\x00") {
		if strings.HasPrefix(name, "trusted.overlay.") {
			continue
		}
		val := make([]byte, 4096)
		if m, err := unix.Lgetxattr(src, name, val); err == nil {
			unix.Fsetxattr(int(dst.Fd()), name, val[:m], 0)
		}
	}
}

func timeOf(ts unix.Timespec) time.Time { return time.Unix(ts.Unix()) }
