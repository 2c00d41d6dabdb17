package image

import (
	"context"
	"os"
	"path/filepath"
	"strings"
)

// PruneOptions control Prune.
type PruneOptions struct {
	// All removes every image no container uses, not only unnamed ones.
	All bool
	// InUse reports whether a container uses the image with this ID.
	InUse func(id string) bool
	// KeepSnapshot reports whether a snapshot directory is in use by a
	// container even though no image names it any more.
	KeepSnapshot func(dir string) bool
}

// Prune removes unnamed (dangling) images, or with All every unused one,
// then every blob and snapshot no remaining image refers to, and leftovers
// of interrupted writes. It returns the names removed.
func (s *Store) Prune(ctx context.Context, opts PruneOptions) ([]string, error) {
	imgs, err := s.List(ctx)
	if err != nil {
		return nil, err
	}
	var removed []string
	for _, img := range imgs {
		dangling := strings.HasPrefix(img.Name, "sha256:")
		if !dangling && !opts.All {
			continue
		}
		if opts.InUse != nil && opts.InUse(img.ID) {
			continue
		}
		names, err := s.Remove(ctx, img.Name, RemoveOptions{Force: true})
		if err != nil {
			return removed, err
		}
		removed = append(removed, names...)
	}
	return removed, s.collect(ctx, opts.KeepSnapshot)
}

// collect deletes blobs and snapshots that no named image refers to.
func (s *Store) collect(ctx context.Context, keepSnapshot func(string) bool) error {
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	imgs, err := s.List(ctx)
	if err != nil {
		return err
	}
	blobs := map[string]bool{}
	snaps := map[string]bool{}
	for _, img := range imgs {
		blobs[digestHex(img.Digest)] = true
		blobs[digestHex(img.ID)] = true
		for _, l := range img.Layers {
			blobs[l.Digest.Hex] = true
		}
		for _, c := range chainIDs(img.DiffIDs) {
			snaps[digestHex(c)] = true
		}
	}
	dir := filepath.Join(s.root, "blobs", "sha256")
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if !blobs[e.Name()] {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
	ents, _ = os.ReadDir(s.snap)
	for _, e := range ents {
		p := filepath.Join(s.snap, e.Name())
		if snaps[e.Name()] || (keepSnapshot != nil && keepSnapshot(p)) {
			continue
		}
		if err := os.RemoveAll(p); err != nil {
			return err
		}
	}
	return nil
}
