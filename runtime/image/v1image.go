package image

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// storedImage presents a stored image to go-containerregistry (for push)
// straight from the blobs, without copying them.
type storedImage struct {
	s      *Store
	img    *Image
	rawM   []byte
	rawCfg []byte
	mt     types.MediaType
}

var _ partial.CompressedImageCore = (*storedImage)(nil)

func (s *Store) v1Image(img *Image) (v1.Image, error) {
	rawM, err := s.readBlob(img.Digest)
	if err != nil {
		return nil, err
	}
	rawCfg, err := s.readBlob(img.ID)
	if err != nil {
		return nil, err
	}
	var probe struct {
		MediaType types.MediaType `json:"mediaType"`
	}
	json.Unmarshal(rawM, &probe)
	if probe.MediaType == "" {
		probe.MediaType = types.OCIManifestSchema1
	}
	return partial.CompressedToImage(&storedImage{s: s, img: img, rawM: rawM, rawCfg: rawCfg, mt: probe.MediaType})
}

func (i *storedImage) RawConfigFile() ([]byte, error)      { return i.rawCfg, nil }
func (i *storedImage) MediaType() (types.MediaType, error) { return i.mt, nil }
func (i *storedImage) RawManifest() ([]byte, error)        { return i.rawM, nil }

func (i *storedImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	for _, l := range i.img.Layers {
		if l.Digest == h {
			return &storedLayer{s: i.s, desc: l}, nil
		}
	}
	if h.String() == i.img.ID {
		return &storedLayer{s: i.s, desc: v1.Descriptor{Digest: h, Size: int64(len(i.rawCfg)), MediaType: types.OCIConfigJSON}}, nil
	}
	return nil, fmt.Errorf("%w: layer %s", ErrNotFound, h)
}

type storedLayer struct {
	s    *Store
	desc v1.Descriptor
}

func (l *storedLayer) Digest() (v1.Hash, error) { return l.desc.Digest, nil }
func (l *storedLayer) Compressed() (io.ReadCloser, error) {
	return os.Open(l.s.blobPath(l.desc.Digest.String()))
}
func (l *storedLayer) Size() (int64, error)                { return l.desc.Size, nil }
func (l *storedLayer) MediaType() (types.MediaType, error) { return l.desc.MediaType, nil }

func remoteTransport() http.RoundTripper { return http.DefaultTransport }

func basicAuth(user, password string) string {
	return base64.StdEncoding.EncodeToString([]byte(user + ":" + password))
}
