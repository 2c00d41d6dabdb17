package build

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	securejoin "github.com/cyphar/filepath-securejoin"
)

// placer writes a layer whose entries land where Docker would put them in
// the stage's file system: destinations are resolved inside the stage
// (view, its root mounted read-only), following the stage's symlinks as if
// view were /. An entry is written at the symlink-free path it resolves
// to, so a link in the image leads the copy elsewhere in the image and
// never out of it, and the link itself stays.
//
// A layer's directories replace the metadata of those below them, so
// every parent an entry needs is written too: with the owner, mode and
// times the stage has for it, or, when it is new, 0755 and the --chown
// owner, as BuildKit's copy makes them.
type placer struct {
	view     string
	tw       *tar.Writer
	uid, gid int   // --chown; -1 for root
	mode     int64 // --chmod; -1 to keep the source's
	dirs     map[string]bool
	files    map[string]bool
	resolved map[string]string // resolve's answers: the view does not change
	now      time.Time
}

func newPlacer(view string, tw *tar.Writer, uid, gid int, mode int64) *placer {
	return &placer{view: view, tw: tw, uid: uid, gid: gid, mode: mode, dirs: map[string]bool{}, files: map[string]bool{}, resolved: map[string]string{}, now: time.Now()}
}

// resolve returns the path p stands for in the stage, following symlinks
// in every component, the last one included.
func (pl *placer) resolve(p string) (string, error) {
	if r, ok := pl.resolved[p]; ok {
		return r, nil
	}
	full, err := securejoin.SecureJoin(pl.view, p)
	if err != nil {
		return "", fmt.Errorf("resolving %s in the image: %w", p, err)
	}
	rel, err := filepath.Rel(pl.view, full)
	if err != nil {
		return "", err
	}
	r := path.Clean("/" + filepath.ToSlash(rel))
	pl.resolved[p] = r
	return r, nil
}

// resolveParent resolves p's directory but keeps its last component: an
// entry written there replaces a symlink rather than following it.
func (pl *placer) resolveParent(p string) (string, error) {
	p = path.Clean("/" + p)
	if p == "/" {
		return p, nil
	}
	dir, err := pl.resolve(path.Dir(p))
	if err != nil {
		return "", err
	}
	return path.Join(dir, path.Base(p)), nil
}

// lstat looks at a symlink-free path in the stage.
func (pl *placer) lstat(p string) (fs.FileInfo, error) {
	return os.Lstat(filepath.Join(pl.view, filepath.FromSlash(p)))
}

// isDir says whether the symlink-free path p is a directory in the stage
// or in the layer so far.
func (pl *placer) isDir(p string) bool {
	if pl.dirs[p] {
		return true
	}
	if pl.files[p] {
		return false
	}
	fi, err := pl.lstat(p)
	return err == nil && fi.IsDir()
}

// own gives a header the --chown owner (root without one).
func (pl *placer) own(h *tar.Header) {
	h.Uid, h.Gid, h.Uname, h.Gname = 0, 0, "", ""
	if pl.uid >= 0 {
		h.Uid, h.Gid = pl.uid, pl.gid
	}
}

// chmod applies --chmod to a copied entry.
func (pl *placer) chmod(h *tar.Header) {
	if pl.mode >= 0 && h.Typeflag != tar.TypeSymlink {
		h.Mode = pl.mode
	}
}

// dir writes the symlink-free directory p and its parents. One the stage
// has keeps its metadata unless replace (a directory from an archive
// takes the archive's, as tar -x does); a new one takes tmpl's, or 0755
// and the --chown owner without a template.
func (pl *placer) dir(p string, tmpl *tar.Header, replace bool) error {
	p = path.Clean("/" + p)
	if p == "/" {
		return nil
	}
	if pl.dirs[p] && !replace {
		return nil
	}
	if pl.files[p] {
		return fmt.Errorf("%s: a file was copied where a directory is needed", p)
	}
	if err := pl.dir(path.Dir(p), nil, false); err != nil {
		return err
	}
	var h *tar.Header
	fi, err := pl.lstat(p)
	switch {
	case err == nil && !fi.IsDir():
		return fmt.Errorf("%s exists in the image and is not a directory", p)
	case err == nil && !replace:
		if h, err = tar.FileInfoHeader(fi, ""); err != nil {
			return err
		}
		h.Uname, h.Gname = "", ""
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return err
	case tmpl != nil:
		c := *tmpl
		h = &c
	default:
		h = &tar.Header{Mode: 0o755, ModTime: pl.now}
		pl.own(h)
	}
	h.Typeflag = tar.TypeDir
	h.Name = strings.TrimPrefix(p, "/") + "/"
	h.Size, h.Linkname = 0, ""
	pl.dirs[p] = true
	return pl.tw.WriteHeader(h)
}

// put writes a non-directory entry at the symlink-free path p (its last
// component is not followed: the entry replaces whatever is there, as
// BuildKit's copy does, except a directory).
func (pl *placer) put(p string, h *tar.Header, body io.Reader) error {
	if pl.isDir(p) {
		return fmt.Errorf("cannot replace the directory %s with a file", p)
	}
	if err := pl.dir(path.Dir(p), nil, false); err != nil {
		return err
	}
	h.Name = strings.TrimPrefix(p, "/")
	if err := pl.tw.WriteHeader(h); err != nil {
		return err
	}
	pl.files[p] = true
	if body != nil && h.Typeflag == tar.TypeReg {
		n, err := io.Copy(pl.tw, body)
		if err != nil {
			return err
		}
		if n != h.Size {
			return fmt.Errorf("%s changed while it was copied", p)
		}
	}
	return nil
}

// target is where a file copied to dest goes. dest ending in / (or
// intoDir) is a directory that receives it under name; otherwise dest,
// its last symlink followed too, is the file, unless it is a directory
// already, which then receives the file, as in Docker.
func (pl *placer) target(dest, name string, intoDir bool) (string, error) {
	if intoDir || strings.HasSuffix(dest, "/") {
		d, err := pl.resolve(dest)
		if err != nil {
			return "", err
		}
		if err := pl.dir(d, nil, false); err != nil {
			return "", err
		}
		return path.Join(d, name), nil
	}
	t, err := pl.resolve(dest)
	if err != nil {
		return "", err
	}
	if pl.isDir(t) {
		return path.Join(t, name), nil
	}
	return t, nil
}
