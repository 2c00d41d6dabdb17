package image

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/moby/go-archive/compression"
)

// ImportOptions configure an imported root file system's image.
type ImportOptions struct {
	// Config is the image configuration (Cmd, Env, ...); PATH is set
	// to the usual default when Env is empty.
	Config v1.Config
}

// Import makes a one-layer image from a root file system tarball (plain or
// compressed).
func (s *Store) Import(ctx context.Context, r io.Reader, name string, opts ImportOptions) (*Image, error) {
	cfg := v1.ConfigFile{Config: opts.Config}
	if len(cfg.Config.Env) == 0 {
		cfg.Config.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	}
	return s.Commit(ctx, CommitOptions{Layer: r, Config: cfg, Name: name, History: v1.History{CreatedBy: "berth image import", Comment: "imported from a tarball"}})
}

// Format is an image archive format.
type Format string

// Archive formats: what `docker save` writes, and an OCI image layout.
const (
	FormatDocker Format = "docker"
	FormatOCI    Format = "oci"
)

// Load reads a docker-archive (what `docker save` and `podman save` write)
// or an OCI archive, plain or compressed, and stores its images.
func (s *Store) Load(ctx context.Context, r io.Reader) ([]*Image, error) {
	plain, err := compression.DecompressStream(r)
	if err != nil {
		return nil, err
	}
	defer plain.Close()
	dir, err := os.MkdirTemp(filepath.Dir(s.root), ".load-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	if err := extractPlain(plain, dir); err != nil {
		return nil, fmt.Errorf("reading the archive: %w", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "manifest.json")); err == nil {
		return s.loadDocker(ctx, dir)
	}
	if _, err := os.Stat(filepath.Join(dir, "index.json")); err == nil {
		return s.loadOCI(ctx, dir)
	}
	return nil, ErrFormat
}

// extractPlain writes regular files and directories of an archive into
// dir; nothing may leave dir, and links are not followed.
func extractPlain(r io.Reader, dir string) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		name, ok := inRoot(h.Name)
		if !ok {
			return fmt.Errorf("%s: path leaves the archive", h.Name)
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if err := root.MkdirAll(name, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if d := path.Dir(name); d != "." {
				if err := root.MkdirAll(d, 0o755); err != nil {
					return err
				}
			}
			f, err := root.Create(name)
			if err != nil {
				return err
			}
			_, err = io.Copy(f, tr)
			f.Close()
			if err != nil {
				return err
			}
		case tar.TypeSymlink:
			// docker save links identical layers; resolve within the archive.
			target := path.Join(path.Dir(name), h.Linkname)
			if _, ok := inRoot(target); !ok {
				return fmt.Errorf("%s: link leaves the archive", h.Name)
			}
			if d := path.Dir(name); d != "." {
				root.MkdirAll(d, 0o755)
			}
			if err := root.Symlink(h.Linkname, name); err != nil {
				return err
			}
		}
	}
}

type dockerManifest struct {
	Config   string   `json:"Config"`
	RepoTags []string `json:"RepoTags"`
	Layers   []string `json:"Layers"`
}

func (s *Store) loadDocker(ctx context.Context, dir string) ([]*Image, error) {
	raw, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		return nil, err
	}
	var ms []dockerManifest
	if err := json.Unmarshal(raw, &ms); err != nil {
		return nil, fmt.Errorf("manifest.json: %w", err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	var out []*Image
	for _, m := range ms {
		rawCfg, err := root.ReadFile(path.Clean(m.Config))
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
		var layers []v1.Descriptor
		for i, l := range m.Layers {
			f, err := root.Open(path.Clean(l))
			if err != nil {
				return nil, fmt.Errorf("layer %s: %w", l, err)
			}
			desc, diffID, err := s.addLayer(f)
			f.Close()
			if err != nil {
				return nil, fmt.Errorf("layer %s: %w", l, err)
			}
			if diffID != cfg.RootFS.DiffIDs[i] {
				return nil, fmt.Errorf("layer %s: %w: content is %s, the config says %s", l, ErrDigest, diffID, cfg.RootFS.DiffIDs[i])
			}
			layers = append(layers, desc)
		}
		var diffIDs []string
		for _, d := range cfg.RootFS.DiffIDs {
			diffIDs = append(diffIDs, d.String())
		}
		if _, err := s.snapshots(layers, diffIDs); err != nil {
			return nil, err
		}
		names := m.RepoTags
		if len(names) == 0 {
			names = []string{""}
		}
		for _, n := range names {
			img, err := s.writeImageRaw(rawCfg, layers, n)
			if err != nil {
				return nil, err
			}
			out = append(out, img)
		}
	}
	return out, nil
}

// writeImageRaw is writeImage for a config whose bytes must be kept as
// they are, so the image keeps its ID.
func (s *Store) writeImageRaw(rawCfg []byte, layers []v1.Descriptor, name string) (*Image, error) {
	cfgDigest, err := s.writeBlobBytes(rawCfg)
	if err != nil {
		return nil, err
	}
	ch, _ := v1.NewHash(cfgDigest)
	m := v1.Manifest{SchemaVersion: 2, MediaType: types.OCIManifestSchema1,
		Config: v1.Descriptor{MediaType: types.OCIConfigJSON, Digest: ch, Size: int64(len(rawCfg))}, Layers: layers}
	rawM, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	mDigest, err := s.writeBlobBytes(rawM)
	if err != nil {
		return nil, err
	}
	if name == "" {
		name = "sha256:" + digestHex(cfgDigest)
	} else if name, err = Normalize(name); err != nil {
		return nil, err
	}
	mh, _ := v1.NewHash(mDigest)
	if err := s.setName(name, v1.Descriptor{MediaType: types.OCIManifestSchema1, Digest: mh, Size: int64(len(rawM))}); err != nil {
		return nil, err
	}
	return s.load(name, mDigest)
}

func (s *Store) loadOCI(ctx context.Context, dir string) ([]*Image, error) {
	raw, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		return nil, err
	}
	var idx v1.IndexManifest
	if err := json.Unmarshal(raw, &idx); err != nil {
		return nil, fmt.Errorf("index.json: %w", err)
	}
	blob := func(d v1.Hash) ([]byte, error) {
		return os.ReadFile(filepath.Join(dir, "blobs", d.Algorithm, d.Hex))
	}
	var out []*Image
	for _, desc := range idx.Manifests {
		name := desc.Annotations["io.containerd.image.name"]
		if name == "" {
			name = desc.Annotations[refNameAnnotation]
		}
		mdesc, err := pickManifest(desc, blob)
		if err != nil {
			return nil, err
		}
		rawM, err := blob(mdesc.Digest)
		if err != nil {
			return nil, err
		}
		m, err := v1.ParseManifest(bytes.NewReader(rawM))
		if err != nil {
			return nil, err
		}
		for _, d := range append([]v1.Descriptor{m.Config}, m.Layers...) {
			f, err := os.Open(filepath.Join(dir, "blobs", d.Digest.Algorithm, d.Digest.Hex))
			if err != nil {
				return nil, fmt.Errorf("blob %s: %w", d.Digest, err)
			}
			_, _, err = s.writeBlob(f, d.Digest.String())
			f.Close()
			if err != nil {
				return nil, err
			}
		}
		if _, _, err := s.writeBlob(bytes.NewReader(rawM), mdesc.Digest.String()); err != nil {
			return nil, err
		}
		rawCfg, err := blob(m.Config.Digest)
		if err != nil {
			return nil, err
		}
		cfg, err := v1.ParseConfigFile(bytes.NewReader(rawCfg))
		if err != nil {
			return nil, err
		}
		var diffIDs []string
		for _, d := range cfg.RootFS.DiffIDs {
			diffIDs = append(diffIDs, d.String())
		}
		if _, err := s.snapshots(m.Layers, diffIDs); err != nil {
			return nil, err
		}
		if name == "" || !strings.ContainsAny(name, "/:") {
			// A bare tag ("latest") names no repository.
			name = ""
		}
		if name == "" {
			name = "sha256:" + m.Config.Digest.Hex
		} else if name, err = Normalize(name); err != nil {
			return nil, err
		}
		if err := s.setName(name, v1.Descriptor{MediaType: mdesc.MediaType, Digest: mdesc.Digest, Size: mdesc.Size}); err != nil {
			return nil, err
		}
		img, err := s.load(name, mdesc.Digest.String())
		if err != nil {
			return nil, err
		}
		out = append(out, img)
	}
	return out, nil
}

// pickManifest follows an index to the linux manifest for this machine.
func pickManifest(desc v1.Descriptor, blob func(v1.Hash) ([]byte, error)) (v1.Descriptor, error) {
	if !desc.MediaType.IsIndex() {
		return desc, nil
	}
	raw, err := blob(desc.Digest)
	if err != nil {
		return desc, err
	}
	idx, err := v1.ParseIndexManifest(bytes.NewReader(raw))
	if err != nil {
		return desc, err
	}
	want := DefaultPlatform()
	for _, m := range idx.Manifests {
		if m.Platform == nil || (m.Platform.OS == want.OS && m.Platform.Architecture == want.Architecture) {
			return pickManifest(m, blob)
		}
	}
	return desc, fmt.Errorf("%w: no manifest for %s/%s in the index", ErrNotFound, want.OS, want.Architecture)
}

// Save writes images to w as a docker-archive (loadable by `docker load`
// and `podman load`) or an OCI archive.
func (s *Store) Save(ctx context.Context, w io.Writer, refs []string, format Format) error {
	var imgs []*Image
	for _, r := range refs {
		img, err := s.Get(ctx, r)
		if err != nil {
			return err
		}
		imgs = append(imgs, img)
	}
	tw := tar.NewWriter(w)
	var err error
	switch format {
	case FormatDocker, "":
		err = s.saveDocker(tw, imgs)
	case FormatOCI:
		err = s.saveOCI(tw, imgs)
	default:
		return fmt.Errorf("%w: %q (want docker or oci)", ErrFormat, format)
	}
	if err != nil {
		return err
	}
	return tw.Close()
}

func addTarFile(tw *tar.Writer, name string, data []byte) error {
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	_, err := tw.Write(data)
	return err
}

func (s *Store) addTarBlob(tw *tar.Writer, name, digest string) error {
	f, err := os.Open(s.blobPath(digest))
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: fi.Size(), Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	_, err = io.Copy(tw, f)
	return err
}

func (s *Store) saveDocker(tw *tar.Writer, imgs []*Image) error {
	var manifest []dockerManifest
	repos := map[string]map[string]string{}
	written := map[string]bool{}
	for _, img := range imgs {
		cfgName := digestHex(img.ID) + ".json"
		if !written[cfgName] {
			if err := s.addTarBlob(tw, cfgName, img.ID); err != nil {
				return err
			}
			written[cfgName] = true
		}
		m := dockerManifest{Config: cfgName}
		if !strings.HasPrefix(img.Name, "sha256:") {
			m.RepoTags = []string{FamiliarName(img.Name)}
			repo, tag, _ := strings.Cut(FamiliarName(img.Name), ":")
			if i := strings.LastIndex(FamiliarName(img.Name), ":"); i > 0 {
				repo, tag = FamiliarName(img.Name)[:i], FamiliarName(img.Name)[i+1:]
			}
			if repos[repo] == nil {
				repos[repo] = map[string]string{}
			}
			repos[repo][tag] = digestHex(img.DiffIDs[len(img.DiffIDs)-1])
		}
		for i, l := range img.Layers {
			name := digestHex(img.DiffIDs[i]) + "/layer.tar"
			m.Layers = append(m.Layers, name)
			if written[name] {
				continue
			}
			if err := s.addUncompressedLayer(tw, name, l.Digest.String()); err != nil {
				return err
			}
			written[name] = true
		}
		manifest = append(manifest, m)
	}
	raw, _ := json.Marshal(manifest)
	if err := addTarFile(tw, "manifest.json", raw); err != nil {
		return err
	}
	raw, _ = json.Marshal(repos)
	return addTarFile(tw, "repositories", raw)
}

// addUncompressedLayer writes a layer blob decompressed, as docker-archive
// layers are; its size is found by a first pass.
func (s *Store) addUncompressedLayer(tw *tar.Writer, name, digest string) error {
	open := func() (io.ReadCloser, *os.File, error) {
		f, err := os.Open(s.blobPath(digest))
		if err != nil {
			return nil, nil, err
		}
		rd, err := compression.DecompressStream(f)
		if err != nil {
			f.Close()
			return nil, nil, err
		}
		return rd, f, nil
	}
	rd, f, err := open()
	if err != nil {
		return err
	}
	size, err := io.Copy(io.Discard, rd)
	rd.Close()
	f.Close()
	if err != nil {
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: size, Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	rd, f, err = open()
	if err != nil {
		return err
	}
	defer f.Close()
	defer rd.Close()
	_, err = io.Copy(tw, rd)
	return err
}

func (s *Store) saveOCI(tw *tar.Writer, imgs []*Image) error {
	if err := addTarFile(tw, "oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)); err != nil {
		return err
	}
	idx := v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex}
	written := map[string]bool{}
	blob := func(d string) error {
		if written[d] {
			return nil
		}
		written[d] = true
		return s.addTarBlob(tw, "blobs/sha256/"+digestHex(d), d)
	}
	for _, img := range imgs {
		for _, l := range img.Layers {
			if err := blob(l.Digest.String()); err != nil {
				return err
			}
		}
		if err := blob(img.ID); err != nil {
			return err
		}
		if err := blob(img.Digest); err != nil {
			return err
		}
		desc := s.manifestDescriptor(img)
		if !strings.HasPrefix(img.Name, "sha256:") {
			tag := "latest"
			if i := strings.LastIndex(img.Name, ":"); i > strings.LastIndex(img.Name, "/") {
				tag = img.Name[i+1:]
			}
			desc.Annotations = map[string]string{"io.containerd.image.name": img.Name, refNameAnnotation: tag}
		}
		idx.Manifests = append(idx.Manifests, desc)
	}
	raw, _ := json.Marshal(idx)
	return addTarFile(tw, "index.json", raw)
}
