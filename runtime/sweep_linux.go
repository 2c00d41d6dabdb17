package runtime

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"

	"github.com/berthdev/berth/internal/statefile"
)

// Exists reports whether a container with that full ID exists.
func (r *Runtime) Exists(id string) bool {
	if !idPattern.MatchString(id) {
		return false
	}
	_, err := os.Stat(r.dir(id))
	return err == nil
}

// Sweep removes what a create or a remove killed halfway left behind (see
// sweepLeftovers). Verbs call it when they take a project's lock, so the
// next command after a kill cleans up.
func (r *Runtime) Sweep() error {
	unlock, err := statefile.Lock(filepath.Join(r.root, "containers", ".lock"))
	if err != nil {
		return err
	}
	defer unlock()
	return r.sweepLeftovers()
}

// sweepLeftovers removes what a create or a remove killed halfway left
// behind: containers/<id>.creating (never renamed into place) and
// <id>.removing (already gone for every reader), with anything still
// mounted below them. Create calls it under the containers lock, which
// every create holds from its .creating directory to the rename; a remove
// in progress deletes the same files, and the two deletions tolerate
// each other.
func (r *Runtime) sweepLeftovers() error {
	dir := filepath.Join(r.root, "containers")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range ents {
		n := e.Name()
		if !strings.HasSuffix(n, ".creating") && !strings.HasSuffix(n, ".removing") {
			continue
		}
		p := filepath.Join(dir, n)
		if err := unmountBelow(p); err != nil {
			errs = append(errs, err)
			continue // never delete through a mount
		}
		if err := os.RemoveAll(p); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// unmountBelow detaches every mount at or below dir, deepest first.
func unmountBelow(dir string) error {
	mounts, err := mountinfo.GetMounts(mountinfo.PrefixFilter(dir))
	if err != nil {
		return err
	}
	slices.SortFunc(mounts, func(a, b *mountinfo.Info) int { return len(b.Mountpoint) - len(a.Mountpoint) })
	var errs []error
	for _, m := range mounts {
		if err := unix.Unmount(m.Mountpoint, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("unmounting %s: %w", m.Mountpoint, err))
		}
	}
	return errors.Join(errs...)
}
