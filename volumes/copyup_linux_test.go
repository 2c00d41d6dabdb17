package volumes

import (
	"os"
	"path/filepath"
	"testing"
)

// TestCopyUpResolvesInsideTheImage locks in the fix for an image that made
// copy-up read the host: `RUN ln -s / /x` + `VOLUME /x/etc` copied the
// host's /etc into the volume.
func TestCopyUpResolvesInsideTheImage(t *testing.T) {
	host := t.TempDir() // a host directory a hostile image points at
	if err := os.MkdirAll(filepath.Join(host, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(host, "data", "canary"), []byte("host"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		links  map[string]string // symlinks in the image: path -> target
		files  map[string]string // files in the image
		target string
		want   map[string]string // what the volume holds: content, or "->target"
	}{
		{
			name:   "a link to / resolves at the image's root",
			links:  map[string]string{"x": "/"},
			files:  map[string]string{"etc/passwd": "image"},
			target: "/x/etc",
			want:   map[string]string{"passwd": "image"},
		},
		{
			name:   "a link to a host directory the image lacks copies nothing",
			links:  map[string]string{"x": host},
			target: "/x/data",
			want:   map[string]string{},
		},
		{
			name:   "a relative link climbing out stays in the image",
			links:  map[string]string{"x": "../../../../../../.." + host},
			target: "/x/data",
			want:   map[string]string{},
		},
		{
			name:   "links in the tree are copied as links, not followed",
			links:  map[string]string{"srv/etc": "/etc", "srv/h": host + "/data"},
			files:  map[string]string{"srv/f": "f"},
			target: "/srv",
			want:   map[string]string{"f": "f", "etc": "->/etc", "h": "->" + host + "/data"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			view, dst := t.TempDir(), t.TempDir()
			for p, content := range tc.files {
				os.MkdirAll(filepath.Dir(filepath.Join(view, p)), 0o755)
				if err := os.WriteFile(filepath.Join(view, p), []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			for p, target := range tc.links {
				os.MkdirAll(filepath.Dir(filepath.Join(view, p)), 0o755)
				if err := os.Symlink(target, filepath.Join(view, p)); err != nil {
					t.Fatal(err)
				}
			}
			if err := copyUpFrom(view, tc.target, dst); err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			filepath.Walk(dst, func(p string, fi os.FileInfo, err error) error {
				if err != nil || p == dst {
					return err
				}
				rel, _ := filepath.Rel(dst, p)
				switch {
				case fi.Mode()&os.ModeSymlink != 0:
					l, _ := os.Readlink(p)
					got[rel] = "->" + l
				case fi.Mode().IsRegular():
					b, _ := os.ReadFile(p)
					got[rel] = string(b)
				}
				return nil
			})
			if len(got) != len(tc.want) {
				t.Errorf("the volume holds %v, want %v", got, tc.want)
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("%s: got %q, want %q", k, got[k], v)
				}
			}
		})
	}
}
