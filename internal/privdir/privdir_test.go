package privdir

import (
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func perm(t *testing.T, p string) fs.FileMode {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func TestEnsure(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	base := t.TempDir()
	for _, tc := range []struct {
		name   string
		before fs.FileMode // 0: does not exist
		want   fs.FileMode
	}{
		{"created", 0, 0o700},
		{"old world-readable root tightened", 0o755, 0o700},
		{"old traversable containers dir tightened", 0o711, 0o700},
		{"group bits taken away", 0o770, 0o700},
		{"never loosened", 0o500, 0o500},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(base, tc.name, "parent", "dir")
			if tc.before != 0 {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(dir, tc.before); err != nil {
					t.Fatal(err)
				}
			}
			if err := Ensure(dir); err != nil {
				t.Fatal(err)
			}
			if got := perm(t, dir); got != tc.want {
				t.Errorf("mode %o, want %o", got, tc.want)
			}
			if tc.before == 0 {
				// Parents are ordinary directories, like /var/lib.
				if got := perm(t, filepath.Dir(dir)); got != 0o755 {
					t.Errorf("parent mode %o, want 755", got)
				}
			}
		})
	}
	file := filepath.Join(base, "file")
	os.WriteFile(file, nil, 0o644)
	if err := Ensure(file); err == nil {
		t.Error("a file accepted as a directory")
	}
}
