package volumes

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/moby/sys/mountinfo"
)

// A seeded volume shows its seed's files, keeps its own writes, deletions
// included, and never changes the seed; the seed cannot be removed from
// under it.
func TestSeededVolumeIsCopyOnWrite(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("root test in CI without root")
		}
		t.Skip("needs root to mount overlayfs")
	}
	ctx := context.Background()
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	src, _, err := s.Create(ctx, "src_data", CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string]string{"keep": "seed", "change": "seed", "delete": "seed"} {
		if err := os.WriteFile(filepath.Join(src.Mountpoint, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := s.Create(ctx, "bad", CreateOptions{Seed: t.TempDir()}); err == nil {
		t.Error("a seed outside the store was accepted")
	}
	v, _, err := s.Create(ctx, "copy_data", CreateOptions{Seed: src.Mountpoint})
	if err != nil {
		t.Fatal(err)
	}
	if !v.Initialized {
		t.Error("a seeded volume would be filled from the image on its first use")
	}
	dir, err := s.Prepare("copy_data")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unmountBelow(dir) })
	if b, err := os.ReadFile(filepath.Join(dir, "keep")); err != nil || string(b) != "seed" {
		t.Fatalf("seeded content: %q %v", b, err)
	}
	os.WriteFile(filepath.Join(dir, "change"), []byte("copy"), 0o644)
	os.WriteFile(filepath.Join(dir, "new"), []byte("copy"), 0o644)
	os.Remove(filepath.Join(dir, "delete"))

	for name, want := range map[string]string{"keep": "seed", "change": "seed", "delete": "seed"} {
		if b, err := os.ReadFile(filepath.Join(src.Mountpoint, name)); err != nil || string(b) != want {
			t.Errorf("seed's %s after writes to the copy: %q %v", name, b, err)
		}
	}
	if _, err := os.Stat(filepath.Join(src.Mountpoint, "new")); err == nil {
		t.Error("a file created in the copy appeared in the seed")
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "change")); string(b) != "copy" {
		t.Errorf("the copy lost its write: %q", b)
	}
	if _, err := os.Stat(filepath.Join(dir, "delete")); err == nil {
		t.Error("a file deleted in the copy is back")
	}

	if err := s.Remove(ctx, "src_data", false); !errors.Is(err, ErrInUse) {
		t.Errorf("removing the seed of a volume: %v", err)
	}
	if err := s.Remove(ctx, "copy_data", false); err != nil {
		t.Fatal(err)
	}
	if ok, _ := mountinfo.Mounted(dir); ok {
		t.Error("the overlay is still mounted after the volume was removed")
	}
	if err := s.Remove(ctx, "src_data", false); err != nil {
		t.Errorf("removing the seed once nothing is layered over it: %v", err)
	}
}
