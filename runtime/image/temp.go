package image

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/berthdev/berth/internal/statefile"
	"golang.org/x/sys/unix"
)

// Prefixes of the store's temporary files and directories: a blob being
// written, a layer being compressed, a layer being unpacked, an archive
// being read.
const (
	tmpBlobPrefix   = ".tmp-"
	tmpLayerPrefix  = ".layer-"
	tmpUnpackPrefix = ".unpack-"
	tmpLoadPrefix   = ".load-"
)

// A temporary file or directory is locked (flock) by the process that
// writes it for as long as it is in use. A killed process's lock goes with
// it, so the next Open tells a leftover from one in use by another berth and
// removes only the leftover.

// createTemp creates a locked temporary file in dir.
func createTemp(dir, prefix string) (*os.File, error) {
	for range 10 {
		f, err := os.CreateTemp(dir, prefix)
		if err != nil {
			return nil, err
		}
		if lockedAt(f, f.Name()) {
			return f, nil
		}
		// Taken for a leftover and removed by another berth between
		// its creation and the lock: make another.
		f.Close()
	}
	return nil, fmt.Errorf("creating a temporary file in %s: removed each time before it could be locked", dir)
}

// mkdirTemp creates a locked temporary directory in dir; release removes
// it and drops the lock.
func mkdirTemp(dir, prefix string) (string, func(), error) {
	for range 10 {
		p, err := os.MkdirTemp(dir, prefix)
		if err != nil {
			return "", nil, err
		}
		f, err := os.Open(p)
		if err != nil {
			os.RemoveAll(p)
			return "", nil, err
		}
		if lockedAt(f, p) {
			return p, func() { os.RemoveAll(p); f.Close() }, nil
		}
		f.Close()
	}
	return "", nil, fmt.Errorf("creating a temporary directory in %s: removed each time before it could be locked", dir)
}

// lockedAt locks f and says whether it is still what p names.
func lockedAt(f *os.File, p string) bool {
	if locked, _ := statefile.TryLock(f); !locked {
		return false
	}
	var a, b unix.Stat_t
	if unix.Fstat(int(f.Fd()), &a) != nil || unix.Lstat(p, &b) != nil {
		return false
	}
	return a.Dev == b.Dev && a.Ino == b.Ino
}

// removeStale deletes the temporary files and directories in dir (with
// one of prefixes) that no process holds: what a killed berth left.
func removeStale(dir string, prefixes ...string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range ents {
		if !slices.ContainsFunc(prefixes, func(p string) bool { return strings.HasPrefix(e.Name(), p) }) {
			continue
		}
		p := filepath.Join(dir, e.Name())
		f, err := os.OpenFile(p, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
		if err != nil {
			continue // gone meanwhile, or not ours to open
		}
		if locked, _ := statefile.TryLock(f); locked {
			if err := os.RemoveAll(p); err != nil {
				errs = append(errs, fmt.Errorf("removing the leftover %s: %w", p, err))
			}
		}
		f.Close()
	}
	return errors.Join(errs...)
}

// removeStale deletes what interrupted writes of the store left behind.
func (s *Store) removeStale() error {
	return errors.Join(
		removeStale(filepath.Dir(s.root), tmpLoadPrefix),
		removeStale(filepath.Join(s.root, "blobs", "sha256"), tmpBlobPrefix, tmpLayerPrefix),
		removeStale(s.snap, tmpUnpackPrefix),
	)
}
