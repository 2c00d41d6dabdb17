package project

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/berthdev/berth/internal/statefile"
)

// projectDir holds a project's lock file, network state, generated /etc
// files and materialised secrets.
func (e *Engine) projectDir(name string) string {
	return filepath.Join(e.runtime.Root(), "projects", name)
}

// lock takes the project's lock file, <root>/projects/<name>/lock, so two
// verbs that change one project never interleave. It waits for the holder
// and gives up when ctx ends.
//
// A project that is gone has its directory removed, lock file included,
// by the holder of its lock (forgetProject). A waiter that opened the
// lock file before it was removed then holds a lock on a file nobody else
// will find, so after locking it checks that the path still names its
// file, and starts again when it does not.
func (e *Engine) lock(ctx context.Context, name string) (func(), error) {
	dir := e.projectDir(name)
	path := filepath.Join(dir, "lock")
	for {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, err
		}
		f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
		if errors.Is(err, fs.ErrNotExist) {
			continue // removed between the two calls
		}
		if err != nil {
			return nil, err
		}
		if err := flockWait(ctx, f, name); err != nil {
			f.Close()
			return nil, err
		}
		if !sameFile(f, path) {
			f.Close()
			continue
		}
		if err := e.runtime.Sweep(); err != nil {
			f.Close()
			return nil, err
		}
		e.sweepProjects(ctx, name)
		return func() {
			// A verb that failed before creating anything, or that took
			// the project down, leaves no directory behind.
			e.forgetProject(ctx, name)
			f.Close()
		}, nil
	}
}

func flockWait(ctx context.Context, f *os.File, name string) error {
	for {
		locked, err := statefile.TryLock(f)
		if locked {
			return nil
		}
		if err != nil {
			return fmt.Errorf("locking project %s: %w", name, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for another berth command on project %s: %w", name, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// sameFile reports whether path still names the open file f.
func sameFile(f *os.File, path string) bool {
	a, err := f.Stat()
	if err != nil {
		return false
	}
	b, err := os.Stat(path)
	return err == nil && os.SameFile(a, b)
}

// sweepProjects removes the directories of projects that are gone (only
// their lock file is left) other than the caller's own, so that every
// project name ever used does not leave a directory behind. A project
// whose lock is held is left alone.
func (e *Engine) sweepProjects(ctx context.Context, except string) {
	ents, _ := os.ReadDir(filepath.Join(e.runtime.Root(), "projects"))
	for _, ent := range ents {
		if ent.Name() == except || !ent.IsDir() || !onlyLockLeft(e.projectDir(ent.Name())) {
			continue
		}
		path := filepath.Join(e.projectDir(ent.Name()), "lock")
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			continue
		}
		if locked, _ := statefile.TryLock(f); locked && sameFile(f, path) {
			e.forgetProject(ctx, ent.Name())
		}
		f.Close()
	}
}

// forgetProject removes a project's directory when nothing of the project
// is left: no containers, and nothing in the directory but its lock file
// and empty directories. The caller holds the project's lock.
func (e *Engine) forgetProject(ctx context.Context, name string) {
	dir := e.projectDir(name)
	if !onlyLockLeft(dir) {
		return
	}
	if cs, err := e.containers(ctx, name, containerQuery{Oneoff: true}); err != nil || len(cs) > 0 {
		return
	}
	// The lock file goes first: a waiter that finds it gone starts again.
	os.Remove(filepath.Join(dir, "lock"))
	removeEmptyDirs(dir)
}

// onlyLockLeft reports whether dir holds nothing but its lock file and
// empty directories.
func onlyLockLeft(dir string) bool {
	empty := true
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !empty {
			return filepath.SkipAll
		}
		if !d.IsDir() && p != filepath.Join(dir, "lock") {
			empty = false
		}
		return nil
	})
	return empty
}

// removeEmptyDirs removes dir and the empty directories below it, deepest
// first; os.Remove never removes a directory that is not empty.
func removeEmptyDirs(dir string) {
	var dirs []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	for i := len(dirs) - 1; i >= 0; i-- {
		os.Remove(dirs[i])
	}
}
