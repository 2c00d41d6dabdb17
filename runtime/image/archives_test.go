package image

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"path"
	goruntime "runtime"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Image archives for the loader's tests and fuzz targets, among them the
// hostile ones `image load` was found to trust.

func hashOf(b []byte) v1.Hash {
	sum := sha256.Sum256(b)
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
}

func descOf(mt types.MediaType, b []byte) v1.Descriptor {
	return v1.Descriptor{MediaType: mt, Digest: hashOf(b), Size: int64(len(b))}
}

func mustJSON(tb testing.TB, v any) []byte {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// oneLayer is a small image: one layer, its config, its manifest.
type oneLayer struct {
	layer, config, manifest    []byte
	layerD, configD, manifestD v1.Descriptor
}

func newOneLayer(tb testing.TB, entries ...entry) oneLayer {
	tb.Helper()
	if len(entries) == 0 {
		entries = []entry{{name: "hello", typ: tar.TypeReg, body: "world"}}
	}
	var o oneLayer
	o.layer = layerTar(tb, entries...)
	o.layerD = descOf(types.OCIUncompressedLayer, o.layer)
	o.config = mustJSON(tb, v1.ConfigFile{OS: "linux", Architecture: goruntime.GOARCH,
		Config: v1.Config{Cmd: []string{"cat", "/hello"}},
		RootFS: v1.RootFS{Type: "layers", DiffIDs: []v1.Hash{hashOf(o.layer)}}})
	o.configD = descOf(types.OCIConfigJSON, o.config)
	o.manifest = mustJSON(tb, v1.Manifest{SchemaVersion: 2, MediaType: types.OCIManifestSchema1, Config: o.configD, Layers: []v1.Descriptor{o.layerD}})
	o.manifestD = descOf(types.OCIManifestSchema1, o.manifest)
	return o
}

func blobEntry(b []byte) entry {
	return entry{name: "blobs/sha256/" + hashOf(b).Hex, typ: tar.TypeReg, body: string(b)}
}

func blobLink(d v1.Descriptor, target string) entry {
	return entry{name: "blobs/sha256/" + d.Digest.Hex, typ: tar.TypeSymlink, link: target}
}

func ociIndex(tb testing.TB, descs ...v1.Descriptor) []byte {
	return mustJSON(tb, v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: descs})
}

// ociArchive is an OCI layout as a tar stream: oci-layout, index.json,
// then the entries given (blobs, or links in their place).
func ociArchive(tb testing.TB, index []byte, entries ...entry) []byte {
	tb.Helper()
	head := []entry{
		{name: "oci-layout", typ: tar.TypeReg, body: `{"imageLayoutVersion":"1.0.0"}`},
		{name: "index.json", typ: tar.TypeReg, body: string(index)},
		{name: "blobs/", typ: tar.TypeDir, mode: 0o755},
		{name: "blobs/sha256/", typ: tar.TypeDir, mode: 0o755},
	}
	return layerTar(tb, append(head, entries...)...)
}

// validOCI is a loadable OCI archive of o named name.
func validOCI(tb testing.TB, o oneLayer, name string) []byte {
	d := o.manifestD
	d.Annotations = map[string]string{"io.containerd.image.name": name}
	return ociArchive(tb, ociIndex(tb, d), blobEntry(o.layer), blobEntry(o.config), blobEntry(o.manifest))
}

// dockerArchive is a docker-archive of o as docker save writes it, tagged
// with tags; entries are added (or put in place of its files).
func dockerArchive(tb testing.TB, o oneLayer, tags []string, entries ...entry) []byte {
	tb.Helper()
	cfgName := o.configD.Digest.Hex + ".json"
	layerName := hashOf(o.layer).Hex + "/layer.tar"
	m := mustJSON(tb, []dockerManifest{{Config: cfgName, RepoTags: tags, Layers: []string{layerName}}})
	files := map[string]entry{
		cfgName:         {name: cfgName, typ: tar.TypeReg, body: string(o.config)},
		layerName:       {name: layerName, typ: tar.TypeReg, body: string(o.layer)},
		"manifest.json": {name: "manifest.json", typ: tar.TypeReg, body: string(m)},
	}
	var extra []entry
	for _, e := range entries {
		if _, ok := files[e.name]; ok {
			files[e.name] = e
		} else {
			extra = append(extra, e)
		}
	}
	out := []entry{{name: path.Dir(layerName) + "/", typ: tar.TypeDir, mode: 0o755}, files[layerName], files[cfgName]}
	out = append(out, extra...)
	return layerTar(tb, append(out, files["manifest.json"])...)
}

// hostileArchive is an archive `image load` must refuse, and the error
// it must refuse it with.
type hostileArchive struct {
	name    string
	archive []byte
	want    error
}

// hostileArchives builds every hostile archive; secret is the absolute
// path of a host file they try to read.
func hostileArchives(tb testing.TB, secret string) []hostileArchive {
	tb.Helper()
	o := newOneLayer(tb)
	named := func(d v1.Descriptor, name string) v1.Descriptor {
		d.Annotations = map[string]string{"io.containerd.image.name": name}
		return d
	}
	index := ociIndex(tb, named(o.manifestD, "example.com/x:v1"))

	// An index whose content lists its own name (its digest cannot
	// match, so the name is that of other bytes).
	self := v1.Descriptor{MediaType: types.OCIImageIndex, Digest: hashOf([]byte("self"))}
	var selfContent []byte
	for int64(len(selfContent)) != self.Size || selfContent == nil {
		self.Size = int64(len(selfContent))
		selfContent = ociIndex(tb, self)
	}

	// Indexes nested one deeper than the loader follows, each with its
	// true digest.
	deep := o.manifestD
	var deepBlobs []entry
	for range maxIndexDepth + 1 {
		b := ociIndex(tb, deep)
		deepBlobs = append(deepBlobs, blobEntry(b))
		deep = descOf(types.OCIImageIndex, b)
	}

	oversized := o.layerD
	oversized.Size--
	overIndex := mustJSON(tb, v1.Manifest{SchemaVersion: 2, MediaType: types.OCIManifestSchema1, Config: o.configD, Layers: []v1.Descriptor{oversized}})

	return []hostileArchive{
		{"oci layer blob links to /dev/zero", ociArchive(tb, index, blobLink(o.layerD, "/dev/zero"), blobEntry(o.config), blobEntry(o.manifest)), ErrArchive},
		{"oci config blob links to a host file", ociArchive(tb, index, blobEntry(o.layer), blobLink(o.configD, secret), blobEntry(o.manifest)), ErrArchive},
		{"oci blob links out of the archive by ../", ociArchive(tb, index, blobEntry(o.layer), blobLink(o.configD, "../../../../../../../../../.."+secret), blobEntry(o.manifest)), ErrArchive},
		{"oci index.json links to a host file", layerTar(tb, entry{name: "index.json", typ: tar.TypeSymlink, link: secret}), ErrArchive},
		{"docker manifest.json links to a host file", dockerArchive(tb, o, []string{"x:v1"}, entry{name: "manifest.json", typ: tar.TypeSymlink, link: secret}), ErrArchive},
		{"docker config links to a host file", dockerArchive(tb, o, []string{"x:v1"}, entry{name: o.configD.Digest.Hex + ".json", typ: tar.TypeSymlink, link: secret}), ErrArchive},
		{"docker layer hard link to a host file", dockerArchive(tb, o, []string{"x:v1"}, entry{name: hashOf(o.layer).Hex + "/layer.tar", typ: tar.TypeLink, link: secret}), ErrArchive},
		{"docker entry leaves the archive", dockerArchive(tb, o, []string{"x:v1"}, entry{name: "../evil", typ: tar.TypeReg, body: "x"}), ErrArchive},
		{"oci index lists itself", ociArchive(tb, ociIndex(tb, self), entry{name: "blobs/sha256/" + self.Digest.Hex, typ: tar.TypeReg, body: string(selfContent)}), ErrDigest},
		{"oci indexes nested too deep", ociArchive(tb, ociIndex(tb, deep), append(deepBlobs, blobEntry(o.layer), blobEntry(o.config), blobEntry(o.manifest))...), ErrArchive},
		{"oci layer larger than its descriptor", ociArchive(tb, ociIndex(tb, descOf(types.OCIManifestSchema1, overIndex)), blobEntry(o.layer), blobEntry(o.config), blobEntry(overIndex)), ErrSize},
		{"docker RepoTag climbs out", dockerArchive(tb, o, []string{"../../../etc:latest"}), ErrArchive},
		{"docker RepoTag without a tag", dockerArchive(tb, o, []string{"example.com/x"}), ErrArchive},
		{"oci name climbs out", ociArchive(tb, ociIndex(tb, named(o.manifestD, "../../../etc:latest")), blobEntry(o.layer), blobEntry(o.config), blobEntry(o.manifest)), ErrArchive},
	}
}
