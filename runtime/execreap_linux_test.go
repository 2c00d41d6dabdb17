package runtime

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// zombie starts a child named name that exits at once, and is left
// unreaped, as libcontainer leaves the processes of an exec that failed.
func zombie(t *testing.T, name string) int {
	t.Helper()
	src, err := os.ReadFile("/bin/true")
	if err != nil {
		t.Skip("no /bin/true")
	}
	exe := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(exe, src, 0o755); err != nil {
		t.Fatal(err)
	}
	pid, err := syscall.ForkExec(exe, []string{name}, &syscall.ProcAttr{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		var ws unix.WaitStatus
		unix.Wait4(pid, &ws, unix.WNOHANG, nil)
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, state := procCommState(pid); state == "Z" {
			return pid
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s (%d) did not exit", name, pid)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// The processes of a failed exec, left as zombies, kept a killed
// container's init from finishing its exit and its monitor waiting for it
// forever; they are reaped, and nothing else is.
func TestReapExecZombies(t *testing.T) {
	child := zombie(t, "runc:[1:CHILD]")
	init := zombie(t, "runc:[2:INIT]")
	other := zombie(t, "true")
	reapExecZombies()
	for _, pid := range []int{child, init} {
		if _, state := procCommState(pid); state != "" {
			t.Errorf("exec leftover %d is still there (%s)", pid, state)
		}
	}
	if _, state := procCommState(other); state != "Z" {
		t.Errorf("another child (%d) was reaped: it is someone else's to wait for", other)
	}
}
