package runtime

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestResolveUserReadsInsideTheRoot: a container's /etc/passwd that is a
// link to a host file, or a FIFO, must not make berth read the host's file
// or block.
func TestResolveUserReadsInsideTheRoot(t *testing.T) {
	host := t.TempDir()
	if err := os.WriteFile(filepath.Join(host, "passwd"), []byte("hostonly:x:4242:4242::/host-home:/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		setup   func(t *testing.T, etc string)
		spec    string
		wantUID int
		wantErr bool
	}{
		{"a plain passwd", func(t *testing.T, etc string) {
			os.WriteFile(filepath.Join(etc, "passwd"), []byte("app:x:1000:1000::/home/app:/bin/sh\n"), 0o644)
		}, "app", 1000, false},
		{"a link to a host file resolves in the root", func(t *testing.T, etc string) {
			os.Symlink(filepath.Join(host, "passwd"), filepath.Join(etc, "passwd"))
		}, "hostonly", 0, true},
		{"a link out of the root through .. stays in it", func(t *testing.T, etc string) {
			os.Symlink("../../../../../../../../.."+filepath.Join(host, "passwd"), filepath.Join(etc, "passwd"))
		}, "hostonly", 0, true},
		{"a FIFO reads as no file", func(t *testing.T, etc string) {
			if err := unix.Mkfifo(filepath.Join(etc, "passwd"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, "1234", 1234, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			etc := filepath.Join(root, "etc")
			os.Mkdir(etc, 0o755)
			tc.setup(t, etc)
			eu, err := ResolveUser(root, tc.spec, nil)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("resolved %q to %+v from the host's file", tc.spec, eu)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if eu.UID != tc.wantUID {
				t.Errorf("uid %d, want %d", eu.UID, tc.wantUID)
			}
		})
	}
}
