package image

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	archive "github.com/moby/go-archive"
	"github.com/moby/go-archive/compression"
)

// chainIDs computes the OCI chain ID of each layer: the identity of the
// layer together with everything below it.
func chainIDs(diffIDs []string) []string {
	out := make([]string, len(diffIDs))
	for i, d := range diffIDs {
		if i == 0 {
			out[i] = d
			continue
		}
		h := sha256.Sum256([]byte(out[i-1] + " " + d))
		out[i] = "sha256:" + hex.EncodeToString(h[:])
	}
	return out
}

func (s *Store) snapshotDir(chainID string) string {
	return filepath.Join(s.snap, strings.TrimPrefix(chainID, "sha256:"))
}

// Snapshots returns the image's layers as unpacked directories, lowest
// first, unpacking any not yet on disk. Each layer is unpacked once and
// shared by every image that has it.
func (s *Store) Snapshots(ctx context.Context, img *Image) ([]string, error) {
	out, err := s.snapshots(img.Layers, img.DiffIDs)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", FamiliarName(img.Name), err)
	}
	return out, nil
}

// snapshots unpacks layers (with their diff IDs) as needed. Stores call
// it before naming a new image, so a layer that cannot be unpacked never
// becomes part of a named image.
func (s *Store) snapshots(layers []v1.Descriptor, diffIDs []string) ([]string, error) {
	if len(layers) != len(diffIDs) {
		return nil, fmt.Errorf("%d layers but %d diff IDs", len(layers), len(diffIDs))
	}
	chains := chainIDs(diffIDs)
	out := make([]string, len(chains))
	for i, c := range chains {
		dir := s.snapshotDir(c)
		out[i] = dir
		if _, err := os.Stat(dir); err == nil {
			continue
		}
		if err := s.unpack(layers[i].Digest.String(), diffIDs[i], dir); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// unpack applies one layer blob into dir: into a temporary directory first,
// renamed into place only when all of it was applied and its content
// matched its diff ID. Two processes unpacking the same layer both finish;
// one rename wins and the other's copy is dropped.
func (s *Store) unpack(blob, diffID, dir string) error {
	f, err := os.Open(s.blobPath(blob))
	if err != nil {
		return fmt.Errorf("layer %s: %w", shortDigest(blob), err)
	}
	defer f.Close()
	rd, err := compression.DecompressStream(f)
	if err != nil {
		return fmt.Errorf("layer %s: %w", shortDigest(blob), err)
	}
	defer rd.Close()
	tmp, release, err := mkdirTemp(s.snap, tmpUnpackPrefix)
	if err != nil {
		return err
	}
	defer release()
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	h := sha256.New()
	if err := unpackStrict(io.TeeReader(rd, h), tmp, blob); err != nil {
		return err
	}
	// Read what the tar reader left (padding), so the digest covers it all.
	io.Copy(h, rd)
	if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); diffID != "" && got != diffID {
		return fmt.Errorf("layer %s: %w: content is %s, the image says %s", shortDigest(blob), ErrDigest, got, diffID)
	}
	if err := os.Rename(tmp, dir); err != nil {
		if _, serr := os.Stat(dir); serr == nil {
			return nil // unpacked meanwhile by another process
		}
		return err
	}
	return nil
}

// unpackStrict checks every entry of a layer before handing it to the
// unpacker, so a malicious layer is refused before anything of it lands:
// no name may leave the root, no hard link may point out of it, no entry may
// be written through a symlink of the same layer, and no device node but an
// overlay whiteout is accepted.
func unpackStrict(r io.Reader, dir, layer string) error {
	pr, pw := io.Pipe()
	errc := make(chan error, 1)
	go func() {
		errc <- archive.Unpack(pr, dir, &archive.TarOptions{WhiteoutFormat: archive.OverlayWhiteoutFormat, NoLchown: false})
		pr.Close()
	}()
	werr := filterLayer(r, pw, layer)
	pw.CloseWithError(werr)
	uerr := <-errc
	if werr != nil {
		return werr
	}
	if uerr != nil {
		return fmt.Errorf("layer %s: %w", shortDigest(layer), uerr)
	}
	return nil
}

func filterLayer(r io.Reader, w io.Writer, layer string) error {
	tr := tar.NewReader(r)
	tw := tar.NewWriter(w)
	symlinks := map[string]bool{}
	refuse := func(entry, msg string) error { return &LayerError{Layer: layer, Entry: entry, Msg: msg} }
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("layer %s: reading: %w", shortDigest(layer), err)
		}
		name, ok := inRoot(h.Name)
		if !ok {
			return refuse(h.Name, "its path leaves the layer's root")
		}
		for dir := path.Dir(name); dir != "." && dir != "/"; dir = path.Dir(dir) {
			if symlinks[dir] {
				return refuse(h.Name, "it is written through the symlink "+dir)
			}
		}
		switch h.Typeflag {
		case tar.TypeLink:
			if _, ok := inRoot(h.Linkname); !ok {
				return refuse(h.Name, "hard link to "+h.Linkname+" outside the layer")
			}
		case tar.TypeSymlink:
			symlinks[name] = true
		case tar.TypeChar, tar.TypeBlock:
			return refuse(h.Name, "device nodes are not accepted in layers")
		case tar.TypeFifo, tar.TypeReg, tar.TypeDir, tar.TypeXGlobalHeader, tar.TypeGNUSparse:
		default:
			if h.Typeflag != tar.TypeRegA {
				return refuse(h.Name, fmt.Sprintf("unsupported entry type %q", h.Typeflag))
			}
		}
		delete(symlinks, name) // a later entry may replace a symlink
		if h.Typeflag == tar.TypeSymlink {
			symlinks[name] = true
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if _, err := io.Copy(tw, tr); err != nil {
			return err
		}
	}
	return tw.Close()
}

// inRoot cleans a tar path and says whether it stays within the root.
func inRoot(p string) (string, bool) {
	if strings.HasPrefix(p, "/") {
		// Absolute names are relative to the layer root in image
		// layers, but an escape by ../ is never allowed.
		p = strings.TrimLeft(p, "/")
	}
	for _, part := range strings.Split(p, "/") {
		if part == ".." {
			return "", false
		}
	}
	c := path.Clean(p)
	return c, c != ".." && !strings.HasPrefix(c, "../")
}
