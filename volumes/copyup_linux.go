package volumes

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// CopyUp fills an empty volume directory with what the image has at path,
// keeping owners, modes, times, symlinks and extended attributes, as
// Docker does on a volume's first use. layers are the image's snapshot
// directories, lowest first, with overlay whiteouts; the merged view is
// read by mounting them read-only for the copy. Nothing is copied when the
// image has nothing there, or when the volume is not empty.
func CopyUp(dst string, layers []string, path string) error {
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
	src := filepath.Join(view, filepath.Clean("/"+path))
	fi, err := os.Lstat(src)
	if errors.Is(err, fs.ErrNotExist) || (err == nil && !fi.IsDir()) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := copyTree(src, dst); err != nil {
		return fmt.Errorf("copying %s from the image into the volume: %w", path, err)
	}
	// The volume's root takes the owner and mode of the image's directory.
	return copyMeta(src, dst, fi)
}

func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if rel == "." {
			return nil
		}
		target := filepath.Join(dst, rel)
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			link, err := os.Readlink(p)
			if err != nil {
				return err
			}
			if err := os.Symlink(link, target); err != nil {
				return err
			}
		case fi.IsDir():
			if err := os.Mkdir(target, 0o700); err != nil {
				return err
			}
		case fi.Mode().IsRegular():
			if err := copyFile(p, target); err != nil {
				return err
			}
		default:
			st := fi.Sys().(*syscall.Stat_t)
			if err := unix.Mknod(target, st.Mode, int(st.Rdev)); err != nil {
				return err
			}
		}
		return copyMeta(p, target, fi)
	})
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// copyMeta copies owner, mode, extended attributes and times.
func copyMeta(src, dst string, fi fs.FileInfo) error {
	st := fi.Sys().(*syscall.Stat_t)
	if err := os.Lchown(dst, int(st.Uid), int(st.Gid)); err != nil {
		return err
	}
	if fi.Mode()&fs.ModeSymlink == 0 {
		if err := os.Chmod(dst, fi.Mode()&(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky)); err != nil {
			return err
		}
		copyXattrs(src, dst)
	}
	ts := []unix.Timespec{unix.NsecToTimespec(st.Atim.Nano()), unix.NsecToTimespec(st.Mtim.Nano())}
	return unix.UtimesNanoAt(unix.AT_FDCWD, dst, ts, unix.AT_SYMLINK_NOFOLLOW)
}

func copyXattrs(src, dst string) {
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
			unix.Lsetxattr(dst, name, val[:m], 0)
		}
	}
}
