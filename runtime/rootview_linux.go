package runtime

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/berthdev/berth/internal/statefile"
	"golang.org/x/sys/unix"
)

// RootView opens the root directory of a running container as its
// processes see it: the image's files with the volumes, binds and tmpfs
// mounts of its mount namespace on them. The handle is an O_PATH one, to
// resolve paths beneath with pathrs-lite (symlinks followed as if it were
// /), never a host path to join: the container is not trusted and may
// have planted symlinks anywhere. The caller closes it.
func (r *Runtime) RootView(ctx context.Context, ref string) (*os.File, Info, error) {
	info, err := r.Inspect(ctx, ref)
	if err != nil {
		return nil, Info{}, err
	}
	if info.Status != StatusRunning && info.Status != StatusPaused {
		return nil, info, fmt.Errorf("%w: %s is %s", ErrNotRunning, info.Name, info.Status)
	}
	var rec record
	if err := statefile.ReadJSON(filepath.Join(info.Dir, "status.json"), &rec); err != nil {
		return nil, info, err
	}
	f, err := os.OpenFile(fmt.Sprintf("/proc/%d/root", rec.Pid), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, info, fmt.Errorf("%w: %s: %v", ErrNotRunning, info.Name, err)
	}
	// The pid was the container's when the handle was opened only if it
	// still is now: a pid reused by another process would give its root.
	if !procAlive(rec.Pid, rec.PidStart) {
		f.Close()
		return nil, info, fmt.Errorf("%w: %s exited", ErrNotRunning, info.Name)
	}
	return f, info, nil
}
