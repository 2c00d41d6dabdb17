package image

import (
	"archive/tar"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
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
