package image

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/distribution/reference"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/go-archive/compression"
)

// Limits on what an archive may make Load do.
const (
	// maxArchiveJSON bounds each JSON document read into memory:
	// manifest.json, index.json, and each index, manifest and config.
	maxArchiveJSON = 8 << 20
	// maxLinkHops bounds the links one name is resolved through, as the
	// kernel's 40.
	maxLinkHops = 40
	// maxIndexDepth bounds how deep OCI indexes nest.
	maxIndexDepth = 8
)

// Load reads a docker-archive (what `docker save` and `podman save` write)
// or an OCI archive, plain or compressed, and stores its images.
//
// An archive is not trusted. It is unpacked into a private temporary
// directory (regular files and directories only) and read through an
// os.Root; its links are resolved by name within the archive, and one that
// leads out of it refuses the archive. Each blob is checked against its
// descriptor's size and digest while it is read, and no more than its size
// is read. Names are checked as Docker checks them. Every document of the
// archive is read and checked before anything is stored.
func (s *Store) Load(ctx context.Context, r io.Reader) ([]*Image, error) {
	plain, err := compression.DecompressStream(r)
	if err != nil {
		return nil, err
	}
	defer plain.Close()
	dir, release, err := mkdirTemp(filepath.Dir(s.root), tmpLoadPrefix)
	if err != nil {
		return nil, err
	}
	defer release()
	a, err := extractArchive(plain, dir)
	if err != nil {
		return nil, fmt.Errorf("reading the archive: %w", err)
	}
	defer a.Close()
	switch {
	case a.has("manifest.json"):
		return s.loadDocker(ctx, a)
	case a.has("index.json"):
		return s.loadOCI(ctx, a)
	}
	return nil, ErrFormat
}

// archiveDir is an image archive unpacked for reading: its regular files
// and directories on disk, its symbolic and hard links kept aside as names
// within the archive. Nothing on disk is a link, so nothing read through
// the os.Root can come from outside the directory.
type archiveDir struct {
	root  *os.Root
	links map[string]string // an entry's name → the name it leads to
	seen  map[string]bool   // names of entries other than directories
}

// extractArchive unpacks the tar stream r into dir.
func extractArchive(r io.Reader, dir string) (*archiveDir, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	a := &archiveDir{root: root, links: map[string]string{}, seen: map[string]bool{}}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return a, nil
		}
		if err == nil {
			err = a.add(h, tr)
		}
		if err != nil {
			a.Close()
			return nil, err
		}
	}
}

func (a *archiveDir) add(h *tar.Header, r io.Reader) error {
	name, ok := inRoot(h.Name)
	if !ok {
		return fmt.Errorf("%w: %s: path leaves the archive", ErrArchive, h.Name)
	}
	if name == "." {
		return nil
	}
	for d := path.Dir(name); d != "."; d = path.Dir(d) {
		if _, ok := a.links[d]; ok {
			return fmt.Errorf("%w: %s: written through the link %s", ErrArchive, h.Name, d)
		}
	}
	if h.Typeflag != tar.TypeDir {
		if a.seen[name] {
			return fmt.Errorf("%w: %s: appears twice", ErrArchive, h.Name)
		}
		a.seen[name] = true
	}
	switch h.Typeflag {
	case tar.TypeDir:
		return a.root.MkdirAll(name, 0o700)
	case tar.TypeReg:
		if d := path.Dir(name); d != "." {
			if err := a.root.MkdirAll(d, 0o700); err != nil {
				return err
			}
		}
		f, err := a.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		_, err = io.Copy(f, r)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		return err
	case tar.TypeSymlink:
		// docker save links a layer shared by two images; such a link
		// is relative and stays in the archive.
		target, ok := inRoot(path.Join(path.Dir(name), h.Linkname))
		if path.IsAbs(h.Linkname) || !ok {
			return fmt.Errorf("%w: %s: link to %s leaves the archive", ErrArchive, h.Name, h.Linkname)
		}
		a.links[name] = target
	case tar.TypeLink:
		target, ok := inRoot(h.Linkname)
		if !ok {
			return fmt.Errorf("%w: %s: link to %s leaves the archive", ErrArchive, h.Name, h.Linkname)
		}
		a.links[name] = target
	}
	// Devices, fifos and the like are never made: nothing of an image
	// archive is one.
	return nil
}

// resolve follows the links on the way to name and returns the name of
// what it leads to.
func (a *archiveDir) resolve(name string) (string, error) {
	p, ok := inRoot(name)
	if !ok {
		return "", fmt.Errorf("%w: %s: path leaves the archive", ErrArchive, name)
	}
	for hops := 0; ; hops++ {
		next, ok := p, false
		parts := strings.Split(p, "/")
		for i := 1; i <= len(parts) && !ok; i++ {
			var target string
			if target, ok = a.links[strings.Join(parts[:i], "/")]; ok {
				next = path.Join(target, strings.Join(parts[i:], "/"))
			}
		}
		if !ok {
			return p, nil
		}
		if hops == maxLinkHops {
			return "", fmt.Errorf("%w: %s: more than %d links", ErrArchive, name, maxLinkHops)
		}
		p = next
	}
}

// open opens a regular file of the archive, following its links within
// the archive.
func (a *archiveDir) open(name string) (*os.File, int64, error) {
	p, err := a.resolve(name)
	if err != nil {
		return nil, 0, err
	}
	f, err := a.root.Open(p)
	if err != nil {
		return nil, 0, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, 0, fmt.Errorf("%w: %s is not a file", ErrArchive, name)
	}
	return f, fi.Size(), nil
}

// has says whether name is a regular file of the archive.
func (a *archiveDir) has(name string) bool {
	f, _, err := a.open(name)
	if err != nil {
		return false
	}
	f.Close()
	return true
}

// readFile reads a file of at most limit bytes.
func (a *archiveDir) readFile(name string, limit int64) ([]byte, error) {
	f, size, err := a.open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if size > limit {
		return nil, fmt.Errorf("%w: %s is %d bytes, more than the %d berth reads", ErrArchive, name, size, limit)
	}
	return io.ReadAll(io.LimitReader(f, limit))
}

// blobName is where an OCI layout keeps the blob d describes.
func blobName(d v1.Descriptor) (string, error) {
	if d.Digest.Algorithm != "sha256" || len(d.Digest.Hex) != 64 {
		return "", fmt.Errorf("%w: digest %q: only sha256 blobs are stored", ErrArchive, d.Digest)
	}
	if d.Size < 0 {
		return "", fmt.Errorf("%w: blob %s: negative size", ErrArchive, shortDigest(d.Digest.String()))
	}
	return "blobs/sha256/" + d.Digest.Hex, nil
}

// readBlob reads a small blob (an index, a manifest, a config) and checks
// it against its descriptor.
func (a *archiveDir) readBlob(d v1.Descriptor) ([]byte, error) {
	name, err := blobName(d)
	if err != nil {
		return nil, err
	}
	if d.Size > maxArchiveJSON {
		return nil, fmt.Errorf("%w: blob %s is %d bytes, more than the %d berth reads", ErrArchive, shortDigest(d.Digest.String()), d.Size, maxArchiveJSON)
	}
	f, size, err := a.open(name)
	if err != nil {
		return nil, fmt.Errorf("blob %s: %w", shortDigest(d.Digest.String()), err)
	}
	defer f.Close()
	if size != d.Size {
		return nil, fmt.Errorf("%w: %s is %d bytes, its descriptor says %d", ErrSize, shortDigest(d.Digest.String()), size, d.Size)
	}
	b, err := io.ReadAll(io.LimitReader(f, d.Size))
	if err != nil {
		return nil, err
	}
	if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != d.Digest.Hex {
		return nil, fmt.Errorf("%w: the content is not %s", ErrDigest, d.Digest)
	}
	return b, nil
}

// Close releases the archive's directory.
func (a *archiveDir) Close() error { return a.root.Close() }

type dockerManifest struct {
	Config   string   `json:"Config"`
	RepoTags []string `json:"RepoTags"`
	Layers   []string `json:"Layers"`
}

// repoTags checks a docker-archive's RepoTags as docker load does, each a
// valid name with a tag, and returns them normalised.
func repoTags(tags []string) ([]string, error) {
	var out []string
	for _, t := range tags {
		named, err := reference.ParseNormalizedNamed(t)
		if err != nil {
			return nil, fmt.Errorf("%w: RepoTags: %q: %w", ErrArchive, t, err)
		}
		_, tagged := named.(reference.NamedTagged)
		_, digested := named.(reference.Canonical)
		if !tagged || digested {
			return nil, fmt.Errorf("%w: RepoTags: %q is not a name and a tag", ErrArchive, t)
		}
		n, err := Normalize(t)
		if err != nil {
			return nil, fmt.Errorf("%w: RepoTags: %w", ErrArchive, err)
		}
		out = append(out, n)
	}
	return out, nil
}

func (s *Store) loadDocker(ctx context.Context, a *archiveDir) ([]*Image, error) {
	raw, err := a.readFile("manifest.json", maxArchiveJSON)
	if err != nil {
		return nil, fmt.Errorf("manifest.json: %w", err)
	}
	var ms []dockerManifest
	if err := json.Unmarshal(raw, &ms); err != nil {
		return nil, fmt.Errorf("manifest.json: %w", err)
	}
	type checked struct {
		m      dockerManifest
		rawCfg []byte
		cfg    *v1.ConfigFile
		names  []string
	}
	var todo []checked
	for _, m := range ms {
		names, err := repoTags(m.RepoTags)
		if err != nil {
			return nil, fmt.Errorf("manifest.json: %w", err)
		}
		rawCfg, err := a.readFile(m.Config, maxArchiveJSON)
		if err != nil {
			return nil, fmt.Errorf("manifest.json: config %s: %w", m.Config, err)
		}
		cfg, err := v1.ParseConfigFile(bytes.NewReader(rawCfg))
		if err != nil {
			return nil, fmt.Errorf("config %s: %w", m.Config, err)
		}
		if len(cfg.RootFS.DiffIDs) != len(m.Layers) {
			return nil, fmt.Errorf("config %s: %d diff IDs for %d layers", m.Config, len(cfg.RootFS.DiffIDs), len(m.Layers))
		}
		for _, l := range m.Layers {
			if !a.has(l) {
				return nil, fmt.Errorf("%w: layer %s is not a file of the archive", ErrArchive, l)
			}
		}
		todo = append(todo, checked{m, rawCfg, cfg, names})
	}
	var out []*Image
	for _, c := range todo {
		var layers []v1.Descriptor
		for i, l := range c.m.Layers {
			f, _, err := a.open(l)
			if err != nil {
				return nil, fmt.Errorf("layer %s: %w", l, err)
			}
			desc, diffID, err := s.addLayer(f)
			f.Close()
			if err != nil {
				return nil, fmt.Errorf("layer %s: %w", l, err)
			}
			if diffID != c.cfg.RootFS.DiffIDs[i] {
				return nil, fmt.Errorf("layer %s: %w: it is not %s, which the config says", l, ErrDigest, c.cfg.RootFS.DiffIDs[i])
			}
			layers = append(layers, desc)
		}
		var diffIDs []string
		for _, d := range c.cfg.RootFS.DiffIDs {
			diffIDs = append(diffIDs, d.String())
		}
		_, warnings, err := s.snapshots(layers, diffIDs)
		if err != nil {
			return nil, err
		}
		names := c.names
		if len(names) == 0 {
			names = []string{""}
		}
		for _, n := range names {
			img, err := s.writeImageRaw(c.rawCfg, layers, n)
			if err != nil {
				return nil, err
			}
			img.Warnings = warnings
			out = append(out, img)
		}
	}
	return out, nil
}

func (s *Store) loadOCI(ctx context.Context, a *archiveDir) ([]*Image, error) {
	raw, err := a.readFile("index.json", maxArchiveJSON)
	if err != nil {
		return nil, fmt.Errorf("index.json: %w", err)
	}
	var idx v1.IndexManifest
	if err := json.Unmarshal(raw, &idx); err != nil {
		return nil, fmt.Errorf("index.json: %w", err)
	}
	type checked struct {
		name   string
		mdesc  v1.Descriptor
		rawM   []byte
		m      *v1.Manifest
		rawCfg []byte
		cfg    *v1.ConfigFile
	}
	var todo []checked
	for _, desc := range idx.Manifests {
		name := desc.Annotations["io.containerd.image.name"]
		if name == "" {
			name = desc.Annotations[refNameAnnotation]
		}
		if !strings.ContainsAny(name, "/:") {
			// A bare tag ("latest") names no repository.
			name = ""
		}
		if name != "" {
			if name, err = Normalize(name); err != nil {
				return nil, fmt.Errorf("index.json: %w: %w", ErrArchive, err)
			}
		}
		mdesc, err := pickManifest(desc, a.readBlob, 0, map[v1.Hash]bool{})
		if err != nil {
			return nil, fmt.Errorf("index.json: %w", err)
		}
		rawM, err := a.readBlob(mdesc)
		if err != nil {
			return nil, fmt.Errorf("manifest: %w", err)
		}
		m, err := v1.ParseManifest(bytes.NewReader(rawM))
		if err != nil {
			return nil, fmt.Errorf("manifest %s: %w", shortDigest(mdesc.Digest.String()), err)
		}
		rawCfg, err := a.readBlob(m.Config)
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		cfg, err := v1.ParseConfigFile(bytes.NewReader(rawCfg))
		if err != nil {
			return nil, fmt.Errorf("config %s: %w", shortDigest(m.Config.Digest.String()), err)
		}
		if len(cfg.RootFS.DiffIDs) != len(m.Layers) {
			return nil, fmt.Errorf("config %s: %d diff IDs for %d layers", shortDigest(m.Config.Digest.String()), len(cfg.RootFS.DiffIDs), len(m.Layers))
		}
		for _, l := range m.Layers {
			name, err := blobName(l)
			if err != nil {
				return nil, err
			}
			if !a.has(name) {
				return nil, fmt.Errorf("%w: layer %s is not a file of the archive", ErrArchive, shortDigest(l.Digest.String()))
			}
		}
		todo = append(todo, checked{name, mdesc, rawM, m, rawCfg, cfg})
	}
	var out []*Image
	for _, c := range todo {
		for _, l := range c.m.Layers {
			if err := s.loadBlob(a, l); err != nil {
				return nil, err
			}
		}
		if _, _, err := s.writeBlob(bytes.NewReader(c.rawCfg), c.m.Config.Digest.String(), c.m.Config.Size); err != nil {
			return nil, err
		}
		var diffIDs []string
		for _, d := range c.cfg.RootFS.DiffIDs {
			diffIDs = append(diffIDs, d.String())
		}
		_, warnings, err := s.snapshots(c.m.Layers, diffIDs)
		if err != nil {
			return nil, err
		}
		if _, _, err := s.writeBlob(bytes.NewReader(c.rawM), c.mdesc.Digest.String(), c.mdesc.Size); err != nil {
			return nil, err
		}
		name := c.name
		if name == "" {
			name = "sha256:" + c.m.Config.Digest.Hex
		}
		if err := s.setName(name, v1.Descriptor{MediaType: c.mdesc.MediaType, Digest: c.mdesc.Digest, Size: c.mdesc.Size}); err != nil {
			return nil, err
		}
		img, err := s.load(name, c.mdesc.Digest.String())
		if err != nil {
			return nil, err
		}
		img.Warnings = warnings
		out = append(out, img)
	}
	return out, nil
}

// loadBlob stores a layer blob of the archive, checked against its
// descriptor as it is read.
func (s *Store) loadBlob(a *archiveDir, d v1.Descriptor) error {
	name, err := blobName(d)
	if err != nil {
		return err
	}
	f, _, err := a.open(name)
	if err != nil {
		return fmt.Errorf("layer %s: %w", shortDigest(d.Digest.String()), err)
	}
	defer f.Close()
	if _, _, err := s.writeBlob(f, d.Digest.String(), d.Size); err != nil {
		return fmt.Errorf("layer %s: %w", shortDigest(d.Digest.String()), err)
	}
	return nil
}

// pickManifest follows an index to the linux manifest for this machine;
// blob reads a blob checked against its descriptor. An index met twice on
// the way, or indexes nested too deep, refuse the archive.
func pickManifest(desc v1.Descriptor, blob func(v1.Descriptor) ([]byte, error), depth int, seen map[v1.Hash]bool) (v1.Descriptor, error) {
	if !desc.MediaType.IsIndex() {
		return desc, nil
	}
	if seen[desc.Digest] {
		return desc, fmt.Errorf("%w: index %s lists itself", ErrArchive, shortDigest(desc.Digest.String()))
	}
	if depth == maxIndexDepth {
		return desc, fmt.Errorf("%w: indexes nested more than %d deep", ErrArchive, maxIndexDepth)
	}
	seen[desc.Digest] = true
	raw, err := blob(desc)
	if err != nil {
		return desc, fmt.Errorf("index: %w", err)
	}
	idx, err := v1.ParseIndexManifest(bytes.NewReader(raw))
	if err != nil {
		return desc, fmt.Errorf("index %s: %w", shortDigest(desc.Digest.String()), err)
	}
	want := DefaultPlatform()
	for _, m := range idx.Manifests {
		if m.Platform == nil || (m.Platform.OS == want.OS && m.Platform.Architecture == want.Architecture) {
			return pickManifest(m, blob, depth+1, seen)
		}
	}
	return desc, fmt.Errorf("%w: no manifest for %s/%s in the index", ErrNotFound, want.OS, want.Architecture)
}
