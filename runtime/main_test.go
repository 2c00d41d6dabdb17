package runtime_test

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
	// As in cmd/berth: keep libcontainer's namespace threads off the main thread.
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
			if err := unpackBusybox(dir); err != nil {
				panic(err)
			}
			layerDir = dir
		}
		return m.Run()
	}()
	os.Exit(code)
}

// unpackBusybox writes the busybox root file system into dir, standing in
// for an image snapshot.
func unpackBusybox(dir string) error {
	b, err := busybox.TarBytes(busybox.Options{})
	if err != nil {
		return err
	}
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		p := filepath.Join(dir, h.Name)
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(p, os.FileMode(h.Mode)&os.ModePerm|os.FileMode(h.Mode)&os.ModeSticky); err != nil {
				return err
			}
			os.Chmod(p, os.FileMode(h.Mode&0o777)|modeSticky(h.Mode))
		case tar.TypeSymlink:
			if err := os.Symlink(h.Linkname, p); err != nil {
				return err
			}
		case tar.TypeReg:
			f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, os.FileMode(h.Mode))
			if err != nil {
				return err
			}
			if _, err := io.Copy(f, tr); err != nil {
				f.Close()
				return err
			}
			f.Close()
		}
	}
}

func modeSticky(m int64) os.FileMode {
	if m&0o1000 != 0 {
		return os.ModeSticky
	}
	return 0
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
