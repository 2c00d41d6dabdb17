// Package bench measures berth against its peers. Its tests run only under
// `make bench` (BERTH_BENCH=1) and write their figures to bench/results/.
package bench

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	goruntime "runtime"
	"testing"

	"github.com/berthdev/berth/internal/busybox"
	"github.com/berthdev/berth/runtime"
	"github.com/opencontainers/runc/libcontainer"
	_ "github.com/opencontainers/runc/libcontainer/nsenter"
)

func init() {
	// The test binary is also the containers' init and their monitor.
	if len(os.Args) > 1 && os.Args[1] == "init" && os.Getenv("_LIBCONTAINER_SYNCPIPE") != "" {
		libcontainer.Init()
	}
	goruntime.LockOSThread()
	if len(os.Args) > 1 && os.Args[1] == runtime.MonitorCommand {
		fs := flag.NewFlagSet("monitor", flag.ExitOnError)
		root := fs.String("root", "", "")
		state := fs.String("state", "", "")
		fs.Parse(os.Args[2:])
		if err := runtime.RunMonitor(*root, *state, fs.Arg(0), os.NewFile(3, "ready")); err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
}

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
	tr := tar.NewReader(bytes.NewReader(busyboxTar(t)))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return dir
		}
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, h.Name)
		switch h.Typeflag {
		case tar.TypeDir:
			os.MkdirAll(p, 0o755)
			os.Chmod(p, os.FileMode(h.Mode&0o777))
		case tar.TypeSymlink:
			os.Symlink(h.Linkname, p)
		case tar.TypeReg:
			f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, os.FileMode(h.Mode))
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(f, tr)
			f.Close()
		}
	}
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
