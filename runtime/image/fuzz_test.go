package image

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// The fuzz targets take their input as a list of tar entries rather than
// as tar bytes: the fuzzer's mutations then change names, link targets,
// types and content instead of breaking header checksums. The seeds are the
// archives and layers of the other tests, hostile ones included.

// entryTypes are the entry types an encoded entry can have, by index.
var entryTypes = []byte{tar.TypeReg, tar.TypeDir, tar.TypeSymlink, tar.TypeLink, tar.TypeChar, tar.TypeBlock, tar.TypeFifo, tar.TypeXGlobalHeader}

// Bounds that keep one fuzz input quick.
const (
	fuzzMaxEntries = 64
	fuzzMaxField   = 1 << 20
)

// encodeEntries writes entries as: a type index byte, then the name, the
// link and the body each preceded by its length (a uvarint), then the mode
// (a uvarint).
func encodeEntries(es []entry) []byte {
	var b []byte
	for _, e := range es {
		i := bytes.IndexByte(entryTypes, e.typ)
		if i < 0 {
			i = 0
		}
		b = append(b, byte(i))
		for _, f := range []string{e.name, e.link, e.body} {
			b = binary.AppendUvarint(b, uint64(len(f)))
			b = append(b, f...)
		}
		b = binary.AppendUvarint(b, uint64(e.mode))
	}
	return b
}

// decodeEntries reads what encodeEntries wrote; whatever does not decode
// ends the list.
func decodeEntries(b []byte) []entry {
	var out []entry
	for len(b) > 0 && len(out) < fuzzMaxEntries {
		var e entry
		e.typ = entryTypes[int(b[0])%len(entryTypes)]
		b = b[1:]
		fields := [3]string{}
		for i := range fields {
			n, k := binary.Uvarint(b)
			if k <= 0 || n > fuzzMaxField || n > uint64(len(b)-k) {
				return out
			}
			fields[i] = string(b[k : k+int(n)])
			b = b[k+int(n):]
		}
		e.name, e.link, e.body = fields[0], fields[1], fields[2]
		mode, k := binary.Uvarint(b)
		if k <= 0 {
			return out
		}
		e.mode = int64(mode & 0o7777)
		b = b[k:]
		out = append(out, e)
	}
	return out
}

// entriesOf reads a tar stream back into entries, for seeds.
func entriesOf(tb testing.TB, archive []byte) []entry {
	tb.Helper()
	var out []entry
	tr := tar.NewReader(bytes.NewReader(archive))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			tb.Fatal(err)
		}
		body, _ := io.ReadAll(tr)
		out = append(out, entry{name: h.Name, link: h.Linkname, typ: h.Typeflag, body: string(body), mode: h.Mode})
	}
}

// fuzzTar writes entries as a tar stream; ok is false when the tar writer
// refuses one (a name too long for any format, say).
func fuzzTar(es []entry) (b []byte, ok bool) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range es {
		h := &tar.Header{Name: e.name, Linkname: e.link, Typeflag: e.typ, Mode: e.mode}
		switch e.typ {
		case tar.TypeReg:
			h.Size = int64(len(e.body))
		case tar.TypeChar, tar.TypeBlock:
			h.Devmajor, h.Devminor = 1, 7
		}
		if tw.WriteHeader(h) != nil {
			return nil, false
		}
		if e.typ == tar.TypeReg {
			tw.Write([]byte(e.body))
		}
	}
	return buf.Bytes(), tw.Close() == nil
}

// fuzzPlace is a fuzz input's world: a store root 16 directories below
// base, and beside it a stand-in for the host that nothing may touch.
type fuzzPlace struct {
	base, root, host string
}

// fuzzBase is where a fuzz target's inputs get their directories: a tmpfs
// of its own when the test runs as root, where writes and syncs cost
// little and an input that wrote without end would fill 256 MB, not the
// disk.
func fuzzBase(f *testing.F) string {
	dir := f.TempDir()
	if os.Geteuid() == 0 {
		if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=256m,mode=0700"); err != nil {
			f.Fatal(err)
		}
		f.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
	}
	return dir
}

func newFuzzPlace(t *testing.T, fbase string) fuzzPlace {
	t.Helper()
	base, err := os.MkdirTemp(fbase, "in-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	root := filepath.Join(base, strings.Repeat("d/", 16), "root")
	host := filepath.Join(base, "host")
	os.MkdirAll(filepath.Join(host, "etc"), 0o755)
	os.WriteFile(filepath.Join(host, "etc", "shadow"), []byte("root:secret:19000::::::\n"), 0o600)
	return fuzzPlace{base, root, host}
}

// outside describes every file under base but the store root.
func (p fuzzPlace) outside(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	filepath.WalkDir(p.base, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if path == p.root {
			return filepath.SkipDir
		}
		fi, _ := d.Info()
		link, _ := os.Readlink(path)
		fmt.Fprintf(&b, "%s %v %d %s\n", path, fi.Mode(), fi.Size(), link)
		return nil
	})
	return b.String()
}

// hostLinks points absolute link targets at the stand-in host, so that a
// write through one would land where the test sees it.
func (p fuzzPlace) hostLinks(es []entry) []entry {
	for i := range es {
		if es[i].typ == tar.TypeSymlink && strings.HasPrefix(es[i].link, "/") {
			es[i].link = p.host + es[i].link
		}
	}
	return es
}

// checkStore checks the invariants every store keeps after any input: no
// temporary file or directory left, nothing outside the store changed,
// and every image it names complete.
func checkStore(t *testing.T, p fuzzPlace, s *Store, before string) {
	t.Helper()
	if l := leftovers(t, s); len(l) > 0 {
		t.Errorf("left behind: %v", l)
	}
	if after := p.outside(t); after != before {
		t.Errorf("written outside the store:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	imgs, err := s.List(context.Background())
	if err != nil {
		t.Fatalf("the store cannot list its images: %v", err)
	}
	for _, img := range imgs {
		snaps, err := s.Snapshots(context.Background(), img)
		if err != nil {
			t.Errorf("image %s named but not complete: %v", img.Name, err)
		}
		for _, d := range snaps {
			if fi, err := os.Lstat(d); err != nil || !fi.IsDir() {
				t.Errorf("snapshot %s: %v", d, err)
			}
		}
	}
}

func fuzzLoad(t *testing.T, fbase string, data []byte) {
	p := newFuzzPlace(t, fbase)
	archive, ok := fuzzTar(decodeEntries(data))
	if !ok {
		return
	}
	s, err := Open(p.root)
	if err != nil {
		t.Fatal(err)
	}
	before := p.outside(t)
	imgs, err := s.Load(context.Background(), bytes.NewReader(archive))
	if err == nil {
		for _, img := range imgs {
			if _, gerr := s.Get(context.Background(), img.ID); gerr != nil {
				t.Errorf("loaded image %s cannot be found: %v", img.ID, gerr)
			}
		}
	}
	checkStore(t, p, s, before)
}

// loadSeeds adds the valid and hostile archives of the tests to f.
func loadSeeds(f *testing.F, valid ...[]byte) {
	for _, a := range valid {
		f.Add(encodeEntries(entriesOf(f, a)))
	}
	for _, h := range hostileArchives(f, "/etc/shadow") {
		f.Add(encodeEntries(entriesOf(f, h.archive)))
	}
}

func FuzzLoadDocker(f *testing.F) {
	o := newOneLayer(f)
	layerName := hashOf(o.layer).Hex + "/layer.tar"
	loadSeeds(f,
		dockerArchive(f, o, []string{"example.com/x:v1", "y:latest"}),
		dockerArchive(f, o, nil),
		dockerArchive(f, o, []string{"example.com/x:v1"},
			entry{name: "shared.tar", typ: tar.TypeReg, body: string(o.layer)},
			entry{name: layerName, typ: tar.TypeSymlink, link: "../shared.tar"}))
	base := fuzzBase(f)
	f.Fuzz(func(t *testing.T, data []byte) { fuzzLoad(t, base, data) })
}

func FuzzLoadOCI(f *testing.F) {
	o := newOneLayer(f)
	loadSeeds(f, validOCI(f, o, "example.com/x:v1"), validOCI(f, o, ""),
		ociArchive(f, ociIndex(f, descOf("application/vnd.oci.image.index.v1+json", ociIndex(f, o.manifestD))),
			blobEntry(ociIndex(f, o.manifestD)), blobEntry(o.layer), blobEntry(o.config), blobEntry(o.manifest)))
	base := fuzzBase(f)
	f.Fuzz(func(t *testing.T, data []byte) { fuzzLoad(t, base, data) })
}

// unpackSeeds are the layers of the unpacker's tests: ordinary content,
// whiteouts, the escapes the strict unpacker refuses, and device nodes.
func unpackSeeds(tb testing.TB) [][]entry {
	ok := entry{name: "ok", typ: tar.TypeReg, body: "fine"}
	return [][]entry{
		{{name: "bin/", typ: tar.TypeDir, mode: 0o755}, {name: "bin/busybox", typ: tar.TypeReg, body: "\x7fELF", mode: 0o755},
			{name: "bin/sh", typ: tar.TypeSymlink, link: "busybox"}, {name: "bin/ash", typ: tar.TypeLink, link: "bin/busybox"},
			{name: "usr/bin/env", typ: tar.TypeSymlink, link: "/bin/busybox"}, {name: "tmp/", typ: tar.TypeDir, mode: 0o1777},
			{name: "bin/su", typ: tar.TypeReg, body: "x", mode: 0o4755}},
		{{name: ".wh.gone", typ: tar.TypeReg}, {name: "dir/", typ: tar.TypeDir, mode: 0o755}, {name: "dir/.wh..wh..opq", typ: tar.TypeReg}, {name: "dir/new", typ: tar.TypeReg, body: "n"}},
		{ok, {name: "../evil", typ: tar.TypeReg, body: "x"}},
		{ok, {name: "a/../../evil", typ: tar.TypeReg, body: "x"}},
		{ok, {name: "passwd", typ: tar.TypeLink, link: "../../../etc/passwd"}},
		{ok, {name: "lnk", typ: tar.TypeSymlink, link: "/tmp"}, {name: "lnk/evil", typ: tar.TypeReg, body: "x"}},
		{ok, {name: "lnk", typ: tar.TypeSymlink, link: "../../.."}, {name: "lnk/evil", typ: tar.TypeReg, body: "x"}},
		{ok, {name: "lnk", typ: tar.TypeSymlink, link: "/etc"}, {name: "lnk", typ: tar.TypeDir, mode: 0o755}, {name: "lnk/shadow", typ: tar.TypeReg, body: "x"}},
		{ok, {name: "dev/mem", typ: tar.TypeChar}},
		{{name: "./", typ: tar.TypeDir, mode: 0o755}, {name: "./dev/", typ: tar.TypeDir, mode: 0o755},
			{name: "./dev/full", typ: tar.TypeChar}, {name: "./dev/null", typ: tar.TypeChar}, {name: "./dev/loop0", typ: tar.TypeBlock},
			{name: "./dev/fd", typ: tar.TypeSymlink, link: "/proc/self/fd"}, {name: "./dev/null2", typ: tar.TypeLink, link: "./dev/null"},
			{name: "./etc/", typ: tar.TypeDir, mode: 0o755}, {name: "./etc/hostname", typ: tar.TypeReg, body: "debian\n"}},
	}
}

func FuzzUnpackLayer(f *testing.F) {
	for _, es := range unpackSeeds(f) {
		f.Add(encodeEntries(es))
	}
	base := fuzzBase(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		p := newFuzzPlace(t, base)
		layer, ok := fuzzTar(p.hostLinks(decodeEntries(data)))
		if !ok {
			return
		}
		s, err := Open(p.root)
		if err != nil {
			t.Fatal(err)
		}
		before := p.outside(t)
		_, err = s.Import(context.Background(), bytes.NewReader(layer), "fuzz", ImportOptions{})
		if err != nil {
			// A refused layer leaves neither a snapshot nor a blob.
			if ents, _ := os.ReadDir(s.snap); len(ents) != 0 {
				t.Errorf("snapshots left by a refused layer: %v", ents)
			}
			if ents, _ := os.ReadDir(filepath.Join(s.root, "blobs", "sha256")); len(ents) != 0 {
				t.Errorf("blobs left by a refused layer: %v", ents)
			}
		}
		checkStore(t, p, s, before)
	})
}

// The fuzz encoding keeps an archive as it is, so that the seeds are the
// archives of the tests and the valid ones load.
func TestFuzzSeedsAreTheArchives(t *testing.T) {
	requireRoot(t)
	o := newOneLayer(t)
	for name, archive := range map[string][]byte{
		"docker": dockerArchive(t, o, []string{"example.com/x:v1"}),
		"oci":    validOCI(t, o, "example.com/x:v1"),
	} {
		t.Run(name, func(t *testing.T) {
			es := entriesOf(t, archive)
			again := decodeEntries(encodeEntries(es))
			if fmt.Sprint(again) != fmt.Sprint(es) {
				t.Fatalf("decoded %v, want %v", again, es)
			}
			b, ok := fuzzTar(again)
			if !ok {
				t.Fatal("the tar writer refused the entries")
			}
			if _, err := newStore(t).Load(context.Background(), bytes.NewReader(b)); err != nil {
				t.Fatal(err)
			}
		})
	}
}
