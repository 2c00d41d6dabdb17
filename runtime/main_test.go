package runtime_test

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/berthdev/berth/internal/busybox"
	_ "github.com/berthdev/berth/internal/reexec" // the test binary is also init and monitor
)

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("root test in CI without root")
		}
		t.Skip("needs root")
	}
}

var layerDir string

func TestMain(m *testing.M) {
	code := func() int {
		if os.Geteuid() == 0 {
			dir, err := os.MkdirTemp("", "berth-runtime-layer-")
			if err != nil {
				panic(err)
			}
			defer os.RemoveAll(dir)
			if err := busybox.Unpack(dir, busybox.Options{}); err != nil {
				panic(err)
			}
			layerDir = dir
		}
		return m.Run()
	}()
	os.Exit(code)
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
