package runtime

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	goruntime "runtime"
	"strings"

	"golang.org/x/sys/unix"
)

// inContainer runs fn on a thread that has joined the running container's
// mount namespace, so paths resolve as the container sees them, volumes
// and binds included. The thread is never returned to the pool: it ends
// with fn.
func (r *Runtime) inContainer(ctx context.Context, ref string, fn func() error) error {
	info, err := r.Inspect(ctx, ref)
	if err != nil {
		return err
	}
	if info.Status != StatusRunning && info.Status != StatusPaused {
		return fmt.Errorf("%w: %s (cp needs a running container)", ErrNotRunning, info.Name)
	}
	ns, err := os.Open(fmt.Sprintf("/proc/%d/ns/mnt", info.Pid))
	if err != nil {
		return err
	}
	defer ns.Close()
	errc := make(chan error, 1)
	go func() {
		goruntime.LockOSThread() // never unlocked: the thread dies with the goroutine
		if err := unix.Unshare(unix.CLONE_FS); err != nil {
			errc <- err
			return
		}
		if err := unix.Setns(int(ns.Fd()), unix.CLONE_NEWNS); err != nil {
			errc <- fmt.Errorf("joining the mount namespace of %s: %w", info.Name, err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// CopyFrom writes the container's src (a file or a directory tree) to w as
// a tar stream whose entries are named from src's base name.
func (r *Runtime) CopyFrom(ctx context.Context, ref, src string, w io.Writer) error {
	return r.inContainer(ctx, ref, func() error {
		return TarTree(w, filepath.Clean("/"+src))
	})
}

// TarTree writes src, a file or a directory tree, to w as a tar stream
// whose entries are named from src's base name ("data/", "data/f"), as
// cp's archives are. Symlinks are archived as links, never followed.
func TarTree(w io.Writer, src string) error {
	tw := tar.NewWriter(w)
	base := filepath.Dir(filepath.Clean(src))
	err := filepath.Walk(filepath.Clean(src), func(p string, fi fs.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(base, p)
		if err != nil {
			return err
		}
		link := ""
		if fi.Mode()&fs.ModeSymlink != 0 {
			link, _ = os.Readlink(p)
		}
		h, err := tar.FileInfoHeader(fi, link)
		if err != nil {
			return err
		}
		h.Name = rel
		if fi.IsDir() {
			h.Name += "/"
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if fi.Mode().IsRegular() {
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			_, err = io.Copy(tw, f)
			f.Close()
			return err
		}
		return nil
	})
	if err != nil {
		return err
	}
	return tw.Close()
}

// CopyTo unpacks a tar stream into the container's directory dst, never
// following a symlink out of it.
func (r *Runtime) CopyTo(ctx context.Context, ref, dst string, rd io.Reader) error {
	return r.inContainer(ctx, ref, func() error {
		root, err := os.OpenRoot(filepath.Clean("/" + dst))
		if err != nil {
			return fmt.Errorf("destination %s in the container: %w", dst, err)
		}
		defer root.Close()
		return untarInto(root, rd)
	})
}

// untarInto writes a tar stream under root, keeping modes and owners.
func untarInto(root *os.Root, rd io.Reader) error {
	tr := tar.NewReader(rd)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		name := path.Clean(strings.TrimPrefix(h.Name, "/"))
		if name == "." || strings.HasPrefix(name, "../") || name == ".." {
			continue
		}
		if d := path.Dir(name); d != "." {
			root.MkdirAll(d, 0o755)
		}
		mode := os.FileMode(h.Mode) & os.ModePerm
		switch h.Typeflag {
		case tar.TypeDir:
			if err := root.MkdirAll(name, mode); err != nil {
				return err
			}
		case tar.TypeReg:
			root.Remove(name)
			f, err := root.OpenFile(name, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
			if err != nil {
				return err
			}
			_, err = io.Copy(f, tr)
			f.Close()
			if err != nil {
				return err
			}
		case tar.TypeSymlink:
			root.Remove(name)
			if err := root.Symlink(h.Linkname, name); err != nil {
				return err
			}
		default:
			continue
		}
		root.Lchown(name, h.Uid, h.Gid)
		if h.Typeflag != tar.TypeSymlink {
			root.Chmod(name, mode)
		}
	}
}

// UntarInto unpacks a tar stream (from CopyFrom) into a host directory.
func UntarInto(dir string, rd io.Reader) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	return untarInto(root, rd)
}
