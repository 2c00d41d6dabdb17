package templates

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteStarter(t *testing.T) {
	dir := t.TempDir()
	files, err := WriteStarter(dir, "basic", StarterOptions{Name: "shop", Image: "busybox"})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 2 {
		t.Errorf("wrote %v", files)
	}
	b, err := os.ReadFile(filepath.Join(dir, "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "name: shop") || !strings.Contains(string(b), "image: busybox") {
		t.Errorf("not rendered:\n%s", b)
	}
	// A second run must not overwrite the user's files.
	if _, err := WriteStarter(dir, "basic", StarterOptions{Name: "x"}); !errors.Is(err, ErrExists) {
		t.Errorf("second write: %v", err)
	}
	if _, err := WriteStarter(t.TempDir(), "nope", StarterOptions{}); err == nil {
		t.Error("unknown starter accepted")
	}
}
