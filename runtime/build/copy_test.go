package build

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
)

// tree is a file system to lay out for a test: a path ending in / is a
// directory, "->" makes a symlink, anything else a file with that content.
type tree map[string]string

func (tr tree) make(t *testing.T, dir string) {
	t.Helper()
	names := make([]string, 0, len(tr))
	for n := range tr {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		v := tr[n]
		p := filepath.Join(dir, n)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		var err error
		switch {
		case strings.HasSuffix(n, "/"):
			err = os.MkdirAll(p, 0o755)
		case strings.HasPrefix(v, "->"):
			err = os.Symlink(strings.TrimPrefix(v, "->"), p)
		default:
			err = os.WriteFile(p, []byte(v), 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// layerEntry is what a layer holds at one path: "dir", "link:<target>",
// "hardlink:<target>" or the file's content.
func readLayer(t *testing.T, rd io.Reader) (map[string]string, map[string]*tar.Header) {
	t.Helper()
	out, hdrs := map[string]string{}, map[string]*tar.Header{}
	tr := tar.NewReader(rd)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out, hdrs
		}
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimSuffix(h.Name, "/")
		hdrs[name] = h
		switch h.Typeflag {
		case tar.TypeDir:
			out[name] = "dir"
		case tar.TypeSymlink:
			out[name] = "link:" + h.Linkname
		case tar.TypeLink:
			out[name] = "hardlink:" + h.Linkname
		default:
			b, _ := io.ReadAll(tr)
			out[name] = string(b)
		}
	}
}

func tarGz(t *testing.T, files map[string]string) string {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if strings.HasSuffix(n, "/") {
			tw.WriteHeader(&tar.Header{Name: n, Typeflag: tar.TypeDir, Mode: 0o700})
			continue
		}
		tw.WriteHeader(&tar.Header{Name: n, Typeflag: tar.TypeReg, Mode: 0o600, Size: int64(len(files[n]))})
		tw.Write([]byte(files[n]))
	}
	tw.Close()
	gz.Close()
	return buf.String()
}

// TestCopyPlacesAsDocker locks in Docker's destination rules for COPY and
// ADD, and that destinations resolve inside the stage: the WORKDIR /code +
// COPY f.txt /code case once made /code a file.
func TestCopyPlacesAsDocker(t *testing.T) {
	host := t.TempDir() // a host directory a hostile stage points at
	for _, tc := range []struct {
		name    string
		stage   tree
		context tree
		srcs    []string
		heredoc map[string]string
		dest    string
		add     bool
		want    map[string]string // entries that must be in the layer
		absent  []string          // entries that must not
		wantErr string
	}{
		{
			name:  "file into an existing directory without a trailing slash",
			stage: tree{"code/": ""}, context: tree{"f.txt": "f"},
			srcs: []string{"f.txt"}, dest: "/code",
			want: map[string]string{"code": "dir", "code/f.txt": "f"},
		},
		{
			name:    "file to a new path without a trailing slash is that file",
			context: tree{"f.txt": "f"},
			srcs:    []string{"f.txt"}, dest: "/code",
			want: map[string]string{"code": "f"}, absent: []string{"code/f.txt"},
		},
		{
			name:    "trailing slash makes a directory",
			context: tree{"f.txt": "f"},
			srcs:    []string{"f.txt"}, dest: "/code/",
			want: map[string]string{"code": "dir", "code/f.txt": "f"},
		},
		{
			name:    "several sources need a directory destination",
			context: tree{"a": "a", "b": "b"},
			srcs:    []string{"a", "b"}, dest: "/new",
			wantErr: "must be a directory and end with a /",
		},
		{
			name:    "several sources into a destination ending in /",
			context: tree{"a": "a", "b": "b"},
			srcs:    []string{"a", "b"}, dest: "/new/",
			want: map[string]string{"new/a": "a", "new/b": "b"},
		},
		{
			name:  "several sources into an existing directory",
			stage: tree{"code/": ""}, context: tree{"a": "a", "b": "b"},
			srcs: []string{"a", "b"}, dest: "/code",
			want: map[string]string{"code/a": "a", "code/b": "b"},
		},
		{
			name:    "a wildcard matching several files needs a directory destination",
			context: tree{"a.txt": "a", "b.txt": "b"},
			srcs:    []string{"*.txt"}, dest: "/new",
			wantErr: "must be a directory and end with a /",
		},
		{
			name:    "a wildcard into a directory",
			context: tree{"a.txt": "a", "b.txt": "b", "c.md": "c"},
			srcs:    []string{"*.txt"}, dest: "/docs/",
			want: map[string]string{"docs/a.txt": "a", "docs/b.txt": "b"}, absent: []string{"docs/c.md"},
		},
		{
			name:    "a directory source copies its contents",
			context: tree{"src/x": "x", "src/sub/y": "y"},
			srcs:    []string{"src"}, dest: "/app",
			want: map[string]string{"app": "dir", "app/x": "x", "app/sub": "dir", "app/sub/y": "y"}, absent: []string{"app/src"},
		},
		{
			name:    "a directory source merges into an existing directory",
			stage:   tree{"app/old": "old"},
			context: tree{"src/x": "x"},
			srcs:    []string{"src"}, dest: "/app/",
			want: map[string]string{"app/x": "x"}, absent: []string{"app/src", "app/old"},
		},
		{
			name:    "ADD of a local archive unpacks into the destination",
			context: tree{"a.tar.gz": tarGz(t, map[string]string{"top/": "", "top/in.txt": "in"})},
			srcs:    []string{"a.tar.gz"}, dest: "/opt", add: true,
			want: map[string]string{"opt": "dir", "opt/top": "dir", "opt/top/in.txt": "in"}, absent: []string{"opt/a.tar.gz"},
		},
		{
			name:    "COPY of a local archive copies the file",
			context: tree{"a.tar.gz": tarGz(t, map[string]string{"in.txt": "in"})},
			srcs:    []string{"a.tar.gz"}, dest: "/opt/",
			want: map[string]string{"opt/a.tar.gz": tarGz(t, map[string]string{"in.txt": "in"})},
		},
		{
			name:    "a heredoc to a file path",
			heredoc: map[string]string{"EOF": "setting=1\n"},
			dest:    "/etc/app.conf",
			want:    map[string]string{"etc/app.conf": "setting=1\n"},
		},
		{
			name:    "a file over an existing directory fails",
			stage:   tree{"code/f.txt/": ""},
			context: tree{"f.txt": "f"},
			srcs:    []string{"f.txt"}, dest: "/code/",
			wantErr: "cannot replace the directory /code/f.txt",
		},
		{
			name:  "a destination through a symlink in the stage lands at its target",
			stage: tree{"real/": "", "d": "->/real"}, context: tree{"f.txt": "f"},
			srcs: []string{"f.txt"}, dest: "/d/",
			want: map[string]string{"real/f.txt": "f"}, absent: []string{"d", "d/f.txt"},
		},
		{
			name:  "a link to the host's root resolves at the stage's root",
			stage: tree{"x": "->/", "etc/": ""}, context: tree{"f.txt": "f"},
			srcs: []string{"f.txt"}, dest: "/x/etc/",
			want: map[string]string{"etc": "dir", "etc/f.txt": "f"}, absent: []string{"x"},
		},
		{
			name:  "a link to an absolute host directory stays in the stage",
			stage: tree{"d": "->" + host}, context: tree{"f.txt": "f"},
			srcs: []string{"f.txt"}, dest: "/d/",
			want: map[string]string{strings.TrimPrefix(host, "/") + "/f.txt": "f"}, absent: []string{"d"},
		},
		{
			name:  "a directory source through a symlink to a directory merges into its target",
			stage: tree{"real/sub/": "", "app/": "", "app/sub": "->/real/sub"}, context: tree{"src/sub/y": "y"},
			srcs: []string{"src"}, dest: "/app/",
			want: map[string]string{"real/sub/y": "y"}, absent: []string{"app/sub", "app/sub/y"},
		},
		{
			name:    "a symlink in a directory source is copied as a symlink",
			context: tree{"src/l": "->/etc/passwd"},
			srcs:    []string{"src"}, dest: "/app/",
			want: map[string]string{"app/l": "link:/etc/passwd"},
		},
		{
			name:    "a top-level symlink source is followed inside the context",
			context: tree{"f.txt": "f", "l": "->f.txt"},
			srcs:    []string{"l"}, dest: "/got",
			want: map[string]string{"got": "f"},
		},
		{
			name:    "a context symlink out of the context does not reach the host",
			context: tree{"link": "->" + host},
			srcs:    []string{"link/canary"}, dest: "/got",
			wantErr: "no such file or directory",
		},
		{
			name:    "a context symlink to / resolves at the context's root",
			context: tree{"x": "->/", "etc/passwd": "context's"},
			srcs:    []string{"x/etc/passwd"}, dest: "/got",
			want: map[string]string{"got": "context's"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			os.WriteFile(filepath.Join(host, "canary"), []byte("host"), 0o644)
			view, ctxDir := t.TempDir(), t.TempDir()
			tc.stage.make(t, view)
			tc.context.make(t, ctxDir)
			var srcs []*source
			defer func() { closeSources(srcs) }()
			for _, s := range tc.srcs {
				found, err := findSources(ctxDir, s, "the build context", nil)
				if err != nil {
					if tc.wantErr != "" && strings.Contains(err.Error(), tc.wantErr) {
						return
					}
					t.Fatal(err)
				}
				srcs = append(srcs, found...)
			}
			for name, data := range tc.heredoc {
				srcs = append(srcs, &source{name: name, data: []byte(data)})
			}
			rd, err := copyLayer(view, srcs, tc.dest, -1, -1, -1, tc.add)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got error %v, want one with %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, _ := readLayer(t, rd)
			for name, want := range tc.want {
				if got[name] != want {
					t.Errorf("%s: got %q, want %q (layer: %v)", name, got[name], want, keys(got))
				}
			}
			for _, name := range tc.absent {
				if _, ok := got[name]; ok {
					t.Errorf("%s is in the layer (layer: %v)", name, keys(got))
				}
			}
		})
	}
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// TestCopyKeepsParentMetadata: a layer's directory replaces the one below
// it, so a COPY into /tmp must not turn the sticky 1777 /tmp into 0755.
func TestCopyKeepsParentMetadata(t *testing.T) {
	view, ctxDir := t.TempDir(), t.TempDir()
	if err := os.Mkdir(filepath.Join(view, "tmp"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(view, "tmp"), os.ModeSticky|0o777); err != nil {
		t.Fatal(err)
	}
	tree{"f.txt": "f"}.make(t, ctxDir)
	srcs, err := findSources(ctxDir, "f.txt", "the build context", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer closeSources(srcs)
	rd, err := copyLayer(view, srcs, "/tmp/new/", 1000, 1000, -1, false)
	if err != nil {
		t.Fatal(err)
	}
	_, hdrs := readLayer(t, rd)
	for _, tc := range []struct {
		name     string
		mode     int64
		uid, gid int
	}{
		{"tmp", 0o1777 | 0o40000, os.Getuid(), os.Getgid()},
		{"tmp/new", 0o755, 1000, 1000},
		{"tmp/new/f.txt", 0o644, 1000, 1000},
	} {
		h := hdrs[tc.name]
		if h == nil {
			t.Errorf("%s is not in the layer", tc.name)
			continue
		}
		if h.Mode&0o7777 != tc.mode&0o7777 || h.Uid != tc.uid || h.Gid != tc.gid {
			t.Errorf("%s: mode %o owner %d:%d, want %o %d:%d", tc.name, h.Mode&0o7777, h.Uid, h.Gid, tc.mode&0o7777, tc.uid, tc.gid)
		}
	}
}

func TestCopyDest(t *testing.T) {
	for _, tc := range []struct{ name, workdir, dest, want string }{
		{"absolute", "/app", "/opt/x", "/opt/x"},
		{"absolute directory", "/app", "/opt/", "/opt/"},
		{"relative is under WORKDIR", "/app", "rel/x", "/app/rel/x"},
		{"relative directory", "/app", "rel/", "/app/rel/"},
		{"dot is WORKDIR as a directory", "/app", ".", "/app/"},
		{"dot at the root", "", ".", "/"},
		{"dot slash", "/app", "./", "/app/"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := copyDest(tc.workdir, tc.dest); got != tc.want {
				t.Errorf("copyDest(%q, %q) = %q, want %q", tc.workdir, tc.dest, got, tc.want)
			}
		})
	}
}

func TestWorkdirLayer(t *testing.T) {
	host := t.TempDir()
	for _, tc := range []struct {
		name   string
		stage  tree
		dir    string
		want   []string // directories in the layer
		absent []string
	}{
		{"existing directory changes nothing", tree{"app/": ""}, "/app", nil, []string{"app"}},
		{"new directory and parents", tree{}, "/a/b", []string{"a", "a/b"}, nil},
		{"through a symlink in the image", tree{"real/": "", "w": "->/real"}, "/w/sub", []string{"real", "real/sub"}, []string{"w"}},
		{"through a symlink to an absolute host path", tree{"w": "->" + host}, "/w/sub", []string{strings.TrimPrefix(host, "/") + "/sub"}, []string{"w"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			view := t.TempDir()
			tc.stage.make(t, view)
			rd, err := workdirLayer(view, tc.dir, -1, -1)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := readLayer(t, rd)
			for _, d := range tc.want {
				if got[d] != "dir" {
					t.Errorf("%s: got %q, want a directory (layer: %v)", d, got[d], keys(got))
				}
			}
			for _, d := range tc.absent {
				if _, ok := got[d]; ok {
					t.Errorf("%s is in the layer (layer: %v)", d, keys(got))
				}
			}
			if ents, _ := os.ReadDir(host); len(ents) != 0 {
				t.Errorf("the host directory was written")
			}
		})
	}
}
