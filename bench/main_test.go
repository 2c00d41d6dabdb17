// Package bench measures berth against its peers. Its tests run only under
// `make bench` (BERTH_BENCH=1) and write their figures to bench/results/.
package bench

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/berthdev/berth/internal/busybox"
	_ "github.com/berthdev/berth/internal/reexec" // the test binary is also init and monitor
)

func requireBench(t *testing.T) {
	t.Helper()
	if os.Getenv("BERTH_BENCH") == "" {
		t.Skip("benchmarks run with `make bench`")
	}
	if os.Geteuid() != 0 {
		t.Fatal("benchmarks need root")
	}
}

func busyboxTar(t *testing.T) []byte {
	t.Helper()
	b, err := busybox.TarBytes(busybox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// busyboxLayer unpacks the busybox root file system into a temp dir that
// stands in for an image snapshot.
func busyboxLayer(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := busybox.Unpack(dir, busybox.Options{}); err != nil {
		t.Fatal(err)
	}
	return dir
}

// writeResult records a benchmark's figures in bench/results/NAME.
func writeResult(t *testing.T, name string, v any) {
	t.Helper()
	b, _ := json.MarshalIndent(v, "", "  ")
	os.MkdirAll("results", 0o755)
	if err := os.WriteFile(filepath.Join("results", name), append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: %s", name, b)
}
