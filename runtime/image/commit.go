package image

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/moby/go-archive/compression"
)

// CommitOptions describe a new image made of a parent and one more layer.
type CommitOptions struct {
	// Parent is the base; nil starts from scratch.
	Parent *Image
	// Layer is the new layer as a tar stream (plain or compressed, with
	// Docker's .wh. whiteouts); nil adds no layer (a metadata-only step).
	Layer io.Reader
	// Config is the new image's configuration; its RootFS and History are
	// filled in here.
	Config v1.ConfigFile
	// History describes the step, as `docker history` shows it.
	History v1.History
	// Name, when set, names the result.
	Name string
}

// Commit writes a new image: the parent's layers, the new layer (stored
// gzip-compressed, unpacked into its snapshot at once) and the config.
func (s *Store) Commit(ctx context.Context, opts CommitOptions) (*Image, error) {
	cfg := opts.Config
	cfg.RootFS = v1.RootFS{Type: "layers"}
	cfg.History = nil
	var layers []v1.Descriptor
	if p := opts.Parent; p != nil {
		layers = append(layers, p.Layers...)
		for _, d := range p.DiffIDs {
			h, _ := v1.NewHash(d)
			cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, h)
		}
		cfg.History = append(cfg.History, p.Config.History...)
	}
	if cfg.OS == "" {
		cfg.OS = "linux"
	}
	if cfg.Architecture == "" {
		cfg.Architecture = runtime.GOARCH
	}
	if cfg.Created.IsZero() {
		cfg.Created = v1.Time{Time: time.Now().UTC()}
	}
	hist := opts.History
	if hist.Created.IsZero() {
		hist.Created = cfg.Created
	}
	if opts.Layer != nil {
		desc, diffID, err := s.addLayer(opts.Layer)
		if err != nil {
			return nil, err
		}
		layers = append(layers, desc)
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, diffID)
	} else {
		hist.EmptyLayer = true
	}
	cfg.History = append(cfg.History, hist)
	var diffIDs []string
	for _, d := range cfg.RootFS.DiffIDs {
		diffIDs = append(diffIDs, d.String())
	}
	_, warnings, err := s.snapshots(layers, diffIDs)
	if err != nil {
		if opts.Layer != nil {
			os.Remove(s.blobPath(layers[len(layers)-1].Digest.String()))
		}
		return nil, err
	}
	img, err := s.writeImage(&cfg, layers, opts.Name)
	if err != nil {
		return nil, err
	}
	img.Warnings = warnings
	return img, nil
}

// addLayer stores a layer gzip-compressed and returns its descriptor and
// diff ID (the digest of the uncompressed tar).
func (s *Store) addLayer(r io.Reader) (v1.Descriptor, v1.Hash, error) {
	plain, err := compression.DecompressStream(r)
	if err != nil {
		return v1.Descriptor{}, v1.Hash{}, err
	}
	defer plain.Close()
	tmp, err := createTemp(filepath.Join(s.root, "blobs", "sha256"), tmpLayerPrefix)
	if err != nil {
		return v1.Descriptor{}, v1.Hash{}, err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	diff := sha256.New()
	zw, _ := gzip.NewWriterLevel(tmp, gzip.BestSpeed)
	if _, err := io.Copy(io.MultiWriter(zw, diff), plain); err != nil {
		return v1.Descriptor{}, v1.Hash{}, fmt.Errorf("reading layer: %w", err)
	}
	if err := zw.Close(); err != nil {
		return v1.Descriptor{}, v1.Hash{}, err
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return v1.Descriptor{}, v1.Hash{}, err
	}
	digest, size, err := s.writeBlob(tmp, "", -1)
	if err != nil {
		return v1.Descriptor{}, v1.Hash{}, err
	}
	h, _ := v1.NewHash(digest)
	diffID := v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(diff.Sum(nil))}
	return v1.Descriptor{MediaType: types.OCILayer, Digest: h, Size: size}, diffID, nil
}

// writeImage stores a config and manifest over layers already in the
// store, names the result (an unnamed image is kept under its ID, as
// Docker shows dangling images), and returns it.
func (s *Store) writeImage(cfg *v1.ConfigFile, layers []v1.Descriptor, name string) (*Image, error) {
	rawCfg, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	if layers == nil {
		layers = []v1.Descriptor{}
	}
	return s.writeImageRaw(rawCfg, layers, name)
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

func digestHex(d string) string {
	_, h, _ := bytesCut(d, ':')
	return h
}

func bytesCut(s string, sep byte) (string, string, bool) {
	if i := bytes.IndexByte([]byte(s), sep); i >= 0 {
		return s[:i], s[i+1:], true
	}
	return s, "", false
}
