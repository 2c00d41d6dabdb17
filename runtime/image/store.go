package image

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/berthdev/berth/internal/privdir"
	"github.com/berthdev/berth/internal/statefile"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// refNameAnnotation names an image in the layout's index.
const refNameAnnotation = "org.opencontainers.image.ref.name"

// Store is the image store under one berth root.
type Store struct {
	root string // <root>/images
	snap string // <root>/snapshots
}

// Image is one named image in the store.
type Image struct {
	Name    string // full name, e.g. docker.io/library/busybox:latest
	ID      string // digest of the config, "sha256:..."
	Digest  string // digest of the manifest
	Config  v1.ConfigFile
	DiffIDs []string
	Layers  []v1.Descriptor
	Created time.Time
	Size    int64 // compressed size of the layers
	// Warnings are for the user: what the call that stored the image
	// left out of it (a layer's device nodes). Empty for an image read
	// back from the store.
	Warnings []string
}

// Open returns the store under root, creating its layout if needed.
func Open(root string) (*Store, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	s := &Store{root: filepath.Join(abs, "images"), snap: filepath.Join(abs, "snapshots")}
	// Snapshots hold the images' setuid files as they are: no other user
	// may reach them (see internal/privdir).
	if err := privdir.EnsureAll(abs, s.root, s.snap); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(s.root, "blobs", "sha256"), 0o700); err != nil {
		return nil, err
	}
	layout := filepath.Join(s.root, "oci-layout")
	if _, err := os.Stat(layout); errors.Is(err, fs.ErrNotExist) {
		if err := os.WriteFile(layout, []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644); err != nil {
			return nil, err
		}
	}
	if err := s.removeStale(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Store) blobPath(digest string) string {
	algo, hexd, _ := strings.Cut(digest, ":")
	return filepath.Join(s.root, "blobs", algo, hexd)
}

// hasBlob says whether a verified blob is present.
func (s *Store) hasBlob(digest string) bool {
	_, err := os.Stat(s.blobPath(digest))
	return err == nil
}

// writeBlob stores r under its sha256 digest, verifying it against want
// when want is set, and its size against size unless size is negative; the
// blob appears under its name only once complete. It reads at most one
// byte more than size, so an endless source cannot fill the disk.
func (s *Store) writeBlob(r io.Reader, want string, size int64) (string, int64, error) {
	if want != "" && s.hasBlob(want) {
		fi, _ := os.Stat(s.blobPath(want))
		return want, fi.Size(), nil
	}
	dir := filepath.Join(s.root, "blobs", "sha256")
	tmp, err := createTemp(dir, tmpBlobPrefix)
	if err != nil {
		return "", 0, err
	}
	// Removed on failure; closed (which drops its lock) only once it
	// is in place, so it is never taken for a leftover before.
	defer tmp.Close()
	defer os.Remove(tmp.Name())
	if size >= 0 {
		r = io.LimitReader(r, size+1)
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), r)
	if err != nil {
		return "", 0, err
	}
	if size >= 0 && n != size {
		if n > size {
			return "", 0, fmt.Errorf("%w: more than the %d bytes its descriptor says", ErrSize, size)
		}
		return "", 0, fmt.Errorf("%w: %d bytes, its descriptor says %d", ErrSize, n, size)
	}
	got := "sha256:" + hex.EncodeToString(h.Sum(nil))
	if want != "" && got != want {
		// Not what it hashes to: that would tell the hash of whatever
		// was read.
		return "", 0, fmt.Errorf("%w: the content is not %s", ErrDigest, want)
	}
	if err := tmp.Sync(); err != nil {
		return "", 0, err
	}
	if err := os.Rename(tmp.Name(), s.blobPath(got)); err != nil {
		return "", 0, err
	}
	return got, n, nil
}

func (s *Store) writeBlobBytes(b []byte) (string, error) {
	d, _, err := s.writeBlob(bytes.NewReader(b), "", -1)
	return d, err
}

func (s *Store) readBlob(digest string) ([]byte, error) {
	b, err := os.ReadFile(s.blobPath(digest))
	if err != nil {
		return nil, fmt.Errorf("reading blob %s: %w", shortDigest(digest), err)
	}
	return b, nil
}

// lock serialises changes to the index across processes.
func (s *Store) lock() (func(), error) {
	return statefile.Lock(filepath.Join(s.root, ".lock"))
}

func (s *Store) readIndex() (*v1.IndexManifest, error) {
	b, err := os.ReadFile(filepath.Join(s.root, "index.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return &v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex}, nil
	}
	if err != nil {
		return nil, err
	}
	var idx v1.IndexManifest
	if err := json.Unmarshal(b, &idx); err != nil {
		return nil, fmt.Errorf("reading the image index: %w", err)
	}
	return &idx, nil
}

// writeIndex replaces the index, durably: the blobs it names are flushed
// before they are named, and it names every image.
func (s *Store) writeIndex(idx *v1.IndexManifest) error {
	return statefile.WriteJSON(filepath.Join(s.root, "index.json"), idx, statefile.Options{Perm: 0o644, Indent: "  ", Sync: true})
}

// setName points name at the manifest described by desc, replacing
// whatever it named before.
func (s *Store) setName(name string, desc v1.Descriptor) error {
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	idx, err := s.readIndex()
	if err != nil {
		return err
	}
	var keep []v1.Descriptor
	for _, m := range idx.Manifests {
		if m.Annotations[refNameAnnotation] != name {
			keep = append(keep, m)
		}
	}
	desc.Annotations = map[string]string{refNameAnnotation: name}
	idx.Manifests = append(keep, desc)
	return s.writeIndex(idx)
}

// load reads the image a manifest digest names.
func (s *Store) load(name, digest string) (*Image, error) {
	raw, err := s.readBlob(digest)
	if err != nil {
		return nil, err
	}
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("image %s: manifest: %w", name, err)
	}
	rawCfg, err := s.readBlob(m.Config.Digest.String())
	if err != nil {
		return nil, err
	}
	cfg, err := v1.ParseConfigFile(bytes.NewReader(rawCfg))
	if err != nil {
		return nil, fmt.Errorf("image %s: config: %w", name, err)
	}
	img := &Image{Name: name, ID: m.Config.Digest.String(), Digest: digest, Config: *cfg, Layers: m.Layers, Created: cfg.Created.Time}
	for _, d := range cfg.RootFS.DiffIDs {
		img.DiffIDs = append(img.DiffIDs, d.String())
	}
	for _, l := range m.Layers {
		img.Size += l.Size
	}
	if len(img.DiffIDs) != len(m.Layers) {
		return nil, fmt.Errorf("image %s: %d layers but %d diff IDs", name, len(m.Layers), len(img.DiffIDs))
	}
	return img, nil
}

// List returns every named image, by name.
func (s *Store) List(ctx context.Context) ([]*Image, error) {
	idx, err := s.readIndex()
	if err != nil {
		return nil, err
	}
	var out []*Image
	for _, m := range idx.Manifests {
		img, err := s.load(m.Annotations[refNameAnnotation], m.Digest.String())
		if err != nil {
			return nil, err
		}
		out = append(out, img)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Intermediates returns the IDs of the images of imgs that are a build's
// intermediate steps, which Docker lists only when asked for all: unnamed
// images that are the parent of another image of imgs, one whose layers
// and history begin with all of theirs.
func Intermediates(imgs []*Image) map[string]bool {
	out := map[string]bool{}
	for _, p := range imgs {
		if !strings.HasPrefix(p.Name, "sha256:") || len(p.Config.History) == 0 {
			continue
		}
		for _, c := range imgs {
			if c.ID != p.ID && isParent(p, c) {
				out[p.ID] = true
				break
			}
		}
	}
	return out
}

// isParent says whether c was made from p: its layers and its history
// begin with all of p's, and it has more history.
func isParent(p, c *Image) bool {
	ph, ch := p.Config.History, c.Config.History
	if len(ch) <= len(ph) || len(c.DiffIDs) < len(p.DiffIDs) || !slices.Equal(p.DiffIDs, c.DiffIDs[:len(p.DiffIDs)]) {
		return false
	}
	for i, h := range ph {
		o := ch[i]
		if !h.Created.Time.Equal(o.Created.Time) || h.CreatedBy != o.CreatedBy || h.Comment != o.Comment || h.Author != o.Author || h.EmptyLayer != o.EmptyLayer {
			return false
		}
	}
	return true
}

// Get finds an image by name (normalised as Docker does), by ID, or by an
// unambiguous ID prefix.
func (s *Store) Get(ctx context.Context, ref string) (*Image, error) {
	// A name is found in the index alone; only an ID needs every image
	// read.
	if full, err := Normalize(ref); err == nil {
		idx, err := s.readIndex()
		if err != nil {
			return nil, err
		}
		for _, m := range idx.Manifests {
			if m.Annotations[refNameAnnotation] == full {
				return s.load(full, m.Digest.String())
			}
		}
	}
	all, err := s.List(ctx)
	if err != nil {
		return nil, err
	}
	id := strings.TrimPrefix(ref, "sha256:")
	if len(id) >= 4 && isHex(id) {
		var found *Image
		for _, img := range all {
			if strings.HasPrefix(strings.TrimPrefix(img.ID, "sha256:"), id) {
				if found != nil && found.ID != img.ID {
					return nil, fmt.Errorf("image ID prefix %q is ambiguous", ref)
				}
				found = img
			}
		}
		if found != nil {
			return found, nil
		}
	}
	return nil, fmt.Errorf("%w: %s", ErrNotFound, ref)
}

func isHex(s string) bool {
	for _, c := range s {
		if !strings.ContainsRune("0123456789abcdef", c) {
			return false
		}
	}
	return true
}

// Tag gives the image src the name dst as well.
func (s *Store) Tag(ctx context.Context, src, dst string) error {
	img, err := s.Get(ctx, src)
	if err != nil {
		return err
	}
	full, err := Normalize(dst)
	if err != nil {
		return err
	}
	return s.setName(full, s.manifestDescriptor(img))
}

func (s *Store) manifestDescriptor(img *Image) v1.Descriptor {
	h, _ := v1.NewHash(img.Digest)
	fi, _ := os.Stat(s.blobPath(img.Digest))
	var size int64
	if fi != nil {
		size = fi.Size()
	}
	mt := types.OCIManifestSchema1
	if raw, err := s.readBlob(img.Digest); err == nil {
		var probe struct {
			MediaType types.MediaType `json:"mediaType"`
		}
		if json.Unmarshal(raw, &probe) == nil && probe.MediaType != "" {
			mt = probe.MediaType
		}
	}
	return v1.Descriptor{MediaType: mt, Digest: h, Size: size}
}

// RemoveOptions control Remove.
type RemoveOptions struct {
	// Force removes the name even when InUse says a container uses it.
	Force bool
	// InUse reports whether a container uses the image with this ID;
	// the caller (who knows the containers) supplies it.
	InUse func(id string) bool
}

// Remove deletes a name. An image ID removes every name of that image.
// Blobs and snapshots no longer referenced are left to Prune.
func (s *Store) Remove(ctx context.Context, ref string, opts RemoveOptions) ([]string, error) {
	img, err := s.Get(ctx, ref)
	if err != nil {
		return nil, err
	}
	if !opts.Force && opts.InUse != nil && opts.InUse(img.ID) {
		return nil, fmt.Errorf("%w: %s is used by a container (remove the container, or force)", ErrInUse, FamiliarName(img.Name))
	}
	byID := strings.HasPrefix(img.ID, "sha256:"+strings.TrimPrefix(ref, "sha256:")) && isHex(strings.TrimPrefix(ref, "sha256:"))
	unlock, err := s.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	idx, err := s.readIndex()
	if err != nil {
		return nil, err
	}
	var keep []v1.Descriptor
	var removed []string
	for _, m := range idx.Manifests {
		n := m.Annotations[refNameAnnotation]
		if n == img.Name || (byID && m.Digest.String() == img.Digest) {
			removed = append(removed, n)
			continue
		}
		keep = append(keep, m)
	}
	idx.Manifests = keep
	return removed, s.writeIndex(idx)
}
