package project

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"

	"github.com/berthdev/berth/runtime"
	"github.com/berthdev/berth/watch"
	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"
)

// syncService writes the changed paths into every running container of
// the service. With skipSame (the initial sync), a file whose size, mode,
// owner and modification time already match is left alone.
func (e *Engine) syncService(ctx context.Context, p *Project, svc string, paths []syncPath, skipSame bool) error {
	cs, err := e.runningContainers(ctx, p, svc)
	if err != nil {
		return err
	}
	var errs []error
	for _, c := range cs {
		if err := e.syncContainer(ctx, c, paths, skipSame); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", c.Name, err))
		}
	}
	return errors.Join(errs...)
}

func (e *Engine) syncContainer(ctx context.Context, c container, paths []syncPath, skipSame bool) error {
	root, info, err := e.runtime.RootView(ctx, c.ID)
	if err != nil {
		return err
	}
	defer root.Close()
	// The owner is the service's user as the container's own
	// /etc/passwd and /etc/group name it, read inside its root.
	u, err := runtime.ResolveUser(fmt.Sprintf("/proc/self/fd/%d", root.Fd()), info.Spec.User, nil)
	if err != nil {
		return err
	}
	pl := &placer{root: root, uid: u.UID, gid: u.GID, skipSame: skipSame}
	var errs []error
	for _, sp := range paths {
		pl.hostRoot, pl.ctrRoot = sp.Rule.Path, sp.Rule.Target
		if err := pl.place(sp.Host, sp.Container); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", sp.Container, err))
		}
	}
	return errors.Join(errs...)
}

// initialSync copies the rule's whole tree into the service's containers
// before watching starts, skipping files that are already the same.
func (e *Engine) initialSync(ctx context.Context, p *Project, r watchRule, wr watch.Rule, opts WatchOptions) error {
	var paths []syncPath
	err := wr.Walk(func(host string, d fs.DirEntry) error {
		paths = append(paths, syncPath{Host: host, Container: r.containerPath(host), Rule: r})
		return nil
	})
	if err != nil {
		return err
	}
	opts.log("Initial sync of service %q: %d paths", r.Service, len(paths))
	return e.syncService(ctx, p, r.Service, paths, true)
}

// placer makes paths in one container's root file system view mirror the
// host's. Every path is resolved inside the root handle, symlinks followed
// as if it were / (pathrs-lite); the last component is then only ever
// used by name relative to its parent's handle, never followed: a
// container that plants a symlink where a file goes gets the link
// replaced, not its target written.
type placer struct {
	root     *os.File // O_PATH handle of the container's root
	uid, gid int
	skipSame bool
	// hostRoot and ctrRoot are the rule's path and target: a directory
	// the sync has to create takes the mode of its host counterpart.
	hostRoot, ctrRoot string
}

// place makes the container's dst what the host's src is now: a copy of
// a file, a directory, a symlink, or nothing when src is gone.
func (pl *placer) place(src, dst string) error {
	dst = path.Clean("/" + dst)
	if dst == "/" {
		return errors.New("refusing to replace the container's root")
	}
	fi, err := os.Lstat(src)
	if errors.Is(err, fs.ErrNotExist) {
		return pl.remove(dst)
	}
	if err != nil {
		return err
	}
	dir, err := pl.mkdirAll(path.Dir(dst))
	if err != nil {
		return err
	}
	defer dir.Close()
	name := path.Base(dst)
	switch {
	case fi.Mode().IsRegular():
		return pl.writeFile(dir, name, src, fi)
	case fi.IsDir():
		h, err := pl.mkdir(dir, name, fi.Mode())
		if err == nil {
			h.Close()
		}
		return err
	case fi.Mode()&fs.ModeSymlink != 0:
		target, err := os.Readlink(src)
		if err != nil {
			return err
		}
		return pl.symlink(dir, name, target)
	}
	return nil // devices, fifos, sockets: nothing to copy
}

// remove deletes dst and everything below it, if it exists.
func (pl *placer) remove(dst string) error {
	dir, err := pathrs.OpenatInRoot(pl.root, path.Dir(dst))
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ENOTDIR) {
		return nil
	}
	if err != nil {
		return err
	}
	defer dir.Close()
	err = removeAt(int(dir.Fd()), path.Base(dst))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// mkdirAll returns a handle of the container's directory d, creating what
// is missing of it owned by the service's user.
func (pl *placer) mkdirAll(d string) (*os.File, error) {
	h, err := pathrs.OpenatInRoot(pl.root, d)
	if err == nil {
		return h, nil
	}
	if !errors.Is(err, fs.ErrNotExist) || d == "/" {
		return nil, err
	}
	parent, err := pl.mkdirAll(path.Dir(d))
	if err != nil {
		return nil, err
	}
	defer parent.Close()
	mode := fs.FileMode(0o755)
	if rel, ok := strings.CutPrefix(d, pl.ctrRoot+"/"); ok && pl.hostRoot != "" {
		if fi, err := os.Stat(path.Join(pl.hostRoot, rel)); err == nil && fi.IsDir() {
			mode = fi.Mode()
		}
	}
	return pl.mkdir(parent, path.Base(d), mode)
}

// mkdir makes (or keeps) the directory name in dir with the user as owner
// and mode's permissions, replacing a file or link of that name, and
// returns its handle.
func (pl *placer) mkdir(dir *os.File, name string, mode fs.FileMode) (*os.File, error) {
	dfd := int(dir.Fd())
	err := unix.Mkdirat(dfd, name, 0o700)
	if errors.Is(err, unix.EEXIST) {
		var st unix.Stat_t
		err = unix.Fstatat(dfd, name, &st, unix.AT_SYMLINK_NOFOLLOW)
		if err == nil && st.Mode&unix.S_IFMT != unix.S_IFDIR {
			// A file or a link (to anywhere) where a directory goes.
			if err = removeAt(dfd, name); err == nil {
				err = unix.Mkdirat(dfd, name, 0o700)
			}
		}
	}
	if err != nil {
		return nil, fmt.Errorf("mkdir %s: %w", name, err)
	}
	fd, err := unix.Openat(dfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", name, err)
	}
	f := os.NewFile(uintptr(fd), name)
	if err := unix.Fchown(fd, pl.uid, pl.gid); err != nil {
		f.Close()
		return nil, err
	}
	if err := unix.Fchmod(fd, unixMode(mode)); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// writeFile replaces name in dir with a copy of the host file src: written
// to a new file beside it, owned and moded, then renamed over name in one
// step, so a reader in the container sees the old file or the new one,
// never half of one.
func (pl *placer) writeFile(dir *os.File, name, src string, fi fs.FileInfo) error {
	dfd := int(dir.Fd())
	mtime := fi.ModTime()
	if pl.skipSame {
		var st unix.Stat_t
		if err := unix.Fstatat(dfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err == nil &&
			st.Mode&unix.S_IFMT == unix.S_IFREG && st.Size == fi.Size() && st.Mode&0o7777 == unixMode(fi.Mode()) &&
			int(st.Uid) == pl.uid && int(st.Gid) == pl.gid && st.Mtim.Nano() == mtime.UnixNano() {
			return nil
		}
	}
	in, err := os.OpenFile(src, os.O_RDONLY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp := tempName(name)
	fd, err := unix.Openat(dfd, tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("creating %s: %w", name, err)
	}
	out := os.NewFile(uintptr(fd), tmp)
	err = func() error {
		if _, err := io.Copy(out, in); err != nil {
			return err
		}
		// chown before chmod: chown clears setuid and setgid bits.
		if err := unix.Fchown(fd, pl.uid, pl.gid); err != nil {
			return err
		}
		if err := unix.Fchmod(fd, unixMode(fi.Mode())); err != nil {
			return err
		}
		ts := []unix.Timespec{unix.NsecToTimespec(mtime.UnixNano()), unix.NsecToTimespec(mtime.UnixNano())}
		return unix.UtimesNanoAt(dfd, tmp, ts, unix.AT_SYMLINK_NOFOLLOW)
	}()
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = renameOver(dfd, tmp, name)
	}
	if err != nil {
		unix.Unlinkat(dfd, tmp, 0)
		return err
	}
	return nil
}

// symlink replaces name in dir with a symbolic link to target (which is
// never followed here: it is only the link's text).
func (pl *placer) symlink(dir *os.File, name, target string) error {
	dfd := int(dir.Fd())
	tmp := tempName(name)
	if err := unix.Symlinkat(target, dfd, tmp); err != nil {
		return err
	}
	err := unix.Fchownat(dfd, tmp, pl.uid, pl.gid, unix.AT_SYMLINK_NOFOLLOW)
	if err == nil {
		err = renameOver(dfd, tmp, name)
	}
	if err != nil {
		unix.Unlinkat(dfd, tmp, 0)
	}
	return err
}

// renameOver renames tmp to name in the directory dfd, first removing a
// directory that stands where the file goes.
func renameOver(dfd int, tmp, name string) error {
	err := unix.Renameat(dfd, tmp, dfd, name)
	if errors.Is(err, unix.EISDIR) || errors.Is(err, unix.ENOTEMPTY) || errors.Is(err, unix.EEXIST) {
		if err := removeAt(dfd, name); err != nil {
			return err
		}
		err = unix.Renameat(dfd, tmp, dfd, name)
	}
	if err != nil {
		return fmt.Errorf("replacing %s: %w", name, err)
	}
	return nil
}

// removeAt deletes name in the directory dfd and, for a directory, all
// it holds, opening each directory without following links.
func removeAt(dfd int, name string) error {
	err := unix.Unlinkat(dfd, name, 0)
	if err == nil || !errors.Is(err, unix.EISDIR) {
		if errors.Is(err, unix.ENOENT) {
			return fs.ErrNotExist
		}
		return err
	}
	fd, err := unix.Openat(dfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	d := os.NewFile(uintptr(fd), name)
	names, err := d.Readdirnames(-1)
	if err == nil {
		for _, n := range names {
			if err = removeAt(fd, n); err != nil && !errors.Is(err, fs.ErrNotExist) {
				break
			}
			err = nil
		}
	}
	d.Close()
	if err != nil {
		return err
	}
	return unix.Unlinkat(dfd, name, unix.AT_REMOVEDIR)
}

// tempName is a hidden name beside name for a file being written.
func tempName(name string) string {
	b := make([]byte, 6)
	rand.Read(b)
	suffix := ".berth-" + hex.EncodeToString(b)
	if len(name) > 200 {
		name = name[:200]
	}
	return "." + name + suffix
}

// unixMode is a file mode's permission, setuid, setgid and sticky bits as
// chmod takes them.
func unixMode(m fs.FileMode) uint32 {
	u := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		u |= unix.S_ISUID
	}
	if m&fs.ModeSetgid != 0 {
		u |= unix.S_ISGID
	}
	if m&fs.ModeSticky != 0 {
		u |= unix.S_ISVTX
	}
	return u
}
