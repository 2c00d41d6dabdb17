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
	// What a layer leaves out was said when the image was stored.
	out, _, err := s.snapshots(img.Layers, img.DiffIDs)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", FamiliarName(img.Name), err)
	}
	return out, nil
}

// snapshots unpacks layers (with their diff IDs) as needed, and returns
// a warning for each layer it unpacked that had device nodes. Stores call
// it before naming a new image, so a layer that cannot be unpacked never
// becomes part of a named image.
func (s *Store) snapshots(layers []v1.Descriptor, diffIDs []string) ([]string, []string, error) {
	if len(layers) != len(diffIDs) {
		return nil, nil, fmt.Errorf("%d layers but %d diff IDs", len(layers), len(diffIDs))
	}
	chains := chainIDs(diffIDs)
	out := make([]string, len(chains))
	var warnings []string
	for i, c := range chains {
		dir := s.snapshotDir(c)
		out[i] = dir
		if _, err := os.Stat(dir); err == nil {
			continue
		}
		skipped, err := s.unpack(layers[i].Digest.String(), diffIDs[i], dir)
		if err != nil {
			return nil, nil, err
		}
		if len(skipped) > 0 {
			warnings = append(warnings, devicesWarning(layers[i].Digest.String(), skipped))
		}
	}
	return out, warnings, nil
}

// devicesWarning says that a layer's device nodes were left out.
func devicesWarning(layer string, skipped []string) string {
	names := strings.Join(skipped, ", ")
	if len(skipped) > 3 {
		names = strings.Join(skipped[:3], ", ") + fmt.Sprintf(" and %d more", len(skipped)-3)
	}
	return fmt.Sprintf("layer %s: %d device nodes left out (%s): every container gets its own /dev", shortDigest(layer), len(skipped), names)
}

// unpack applies one layer blob into dir: into a temporary directory first,
// renamed into place only when all of it was applied and its content
// matched its diff ID. Two processes unpacking the same layer both finish;
// one rename wins and the other's copy is dropped. It returns the device
// nodes it left out.
func (s *Store) unpack(blob, diffID, dir string) ([]string, error) {
	f, err := os.Open(s.blobPath(blob))
	if err != nil {
		return nil, fmt.Errorf("layer %s: %w", shortDigest(blob), err)
	}
	defer f.Close()
	rd, err := compression.DecompressStream(f)
	if err != nil {
		return nil, fmt.Errorf("layer %s: %w", shortDigest(blob), err)
	}
	defer rd.Close()
	tmp, release, err := mkdirTemp(s.snap, tmpUnpackPrefix)
	if err != nil {
		return nil, err
	}
	defer release()
	if err := os.Chmod(tmp, 0o755); err != nil {
		return nil, err
	}
	h := sha256.New()
	skipped, err := unpackStrict(io.TeeReader(rd, h), tmp, blob)
	if err != nil {
		return nil, err
	}
	// Read what the tar reader left (padding), so the digest covers it all.
	io.Copy(h, rd)
	if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); diffID != "" && got != diffID {
		return nil, fmt.Errorf("layer %s: %w: content is %s, the image says %s", shortDigest(blob), ErrDigest, got, diffID)
	}
	if err := os.Rename(tmp, dir); err != nil {
		if _, serr := os.Stat(dir); serr == nil {
			return skipped, nil // unpacked meanwhile by another process
		}
		return nil, err
	}
	return skipped, nil
}

// unpackStrict checks every entry of a layer before handing it to the
// unpacker, so a malicious layer is refused before anything of it lands:
// no name may leave the root, no hard link may point out of it, and no entry
// may be written through a symlink of the same layer.
//
// Device nodes are left out, and returned: images made by debootstrap and
// the like carry a /dev of their own (./dev/full, ./dev/null, ...), which
// Docker loads. A container never sees them, since it gets a /dev of its
// own, and a node left in a snapshot is a way to the host's devices for
// whoever can reach it.
func unpackStrict(r io.Reader, dir, layer string) ([]string, error) {
	pr, pw := io.Pipe()
	errc := make(chan error, 1)
	go func() {
		errc <- archive.Unpack(pr, dir, &archive.TarOptions{WhiteoutFormat: archive.OverlayWhiteoutFormat, NoLchown: false})
		pr.Close()
	}()
	skipped, werr := filterLayer(r, pw, layer)
	pw.CloseWithError(werr)
	uerr := <-errc
	if werr != nil {
		return nil, werr
	}
	if uerr != nil {
		return nil, fmt.Errorf("layer %s: %w", shortDigest(layer), uerr)
	}
	return skipped, nil
}

// filterLayer copies the layer r to w, refusing what unpackStrict refuses
// and leaving out device nodes (and hard links to them), whose names it
// returns.
func filterLayer(r io.Reader, w io.Writer, layer string) ([]string, error) {
	tr := tar.NewReader(r)
	tw := tar.NewWriter(w)
	symlinks := map[string]bool{}
	devices := map[string]bool{}
	var skipped []string
	refuse := func(entry, msg string) error { return &LayerError{Layer: layer, Entry: entry, Msg: msg} }
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("layer %s: reading: %w", shortDigest(layer), err)
		}
		name, ok := inRoot(h.Name)
		if !ok {
			return nil, refuse(h.Name, "its path leaves the layer's root")
		}
		for dir := path.Dir(name); dir != "." && dir != "/"; dir = path.Dir(dir) {
			if symlinks[dir] {
				return nil, refuse(h.Name, "it is written through the symlink "+dir)
			}
		}
		// A later entry may replace a symlink or a device.
		delete(symlinks, name)
		delete(devices, name)
		switch h.Typeflag {
		case tar.TypeLink:
			target, ok := inRoot(h.Linkname)
			if !ok {
				return nil, refuse(h.Name, "hard link to "+h.Linkname+" outside the layer")
			}
			if devices[target] {
				devices[name] = true
				skipped = append(skipped, h.Name)
				continue
			}
		case tar.TypeSymlink:
			symlinks[name] = true
		case tar.TypeChar, tar.TypeBlock:
			devices[name] = true
			skipped = append(skipped, h.Name)
			continue
		case tar.TypeFifo, tar.TypeReg, tar.TypeDir, tar.TypeXGlobalHeader, tar.TypeGNUSparse:
		default:
			if h.Typeflag != tar.TypeRegA {
				return nil, refuse(h.Name, fmt.Sprintf("unsupported entry type %q", h.Typeflag))
			}
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := io.Copy(tw, tr); err != nil {
			return nil, err
		}
	}
	return skipped, tw.Close()
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
