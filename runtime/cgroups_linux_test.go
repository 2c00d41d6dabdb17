package runtime_test

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	"github.com/berthdev/berth/runtime"
)

// Removing a container removes its cgroups even when a process is still
// in them, frozen or not: one its monitor was starting while the command
// that asked for it was killed, say. It is the container's, and goes with
// it; before, down failed with "cgroups still in use" and left them.
func TestRemoveCgroupsKillsWhatIsLeft(t *testing.T) {
	requireRoot(t)
	b := make([]byte, 32)
	rand.Read(b)
	id := hex.EncodeToString(b)
	var dirs []string
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		dirs = []string{filepath.Join("/sys/fs/cgroup/berth", id)}
	} else {
		dirs = []string{
			filepath.Join("/sys/fs/cgroup/pids/berth", id),
			filepath.Join("/sys/fs/cgroup/freezer/berth", id),
		}
	}
	cmd := exec.Command("sleep", "1000")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		for _, d := range dirs {
			syscall.Rmdir(d)
		}
	})
	pid := []byte(strconv.Itoa(cmd.Process.Pid))
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "cgroup.procs"), pid, 0); err != nil {
			t.Fatal(err)
		}
	}
	// Frozen, as a paused container is.
	for _, d := range dirs {
		for f, v := range map[string]string{"freezer.state": "FROZEN", "cgroup.freeze": "1"} {
			if fileExists(filepath.Join(d, f)) {
				if err := os.WriteFile(filepath.Join(d, f), []byte(v), 0); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	if err := runtime.RemoveCgroups(id); err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		if _, err := os.Stat(d); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left: %v", d, err)
		}
	}
	err := cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Errorf("the process in the cgroup: %v, want killed", err)
	}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
