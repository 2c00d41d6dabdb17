package runtime

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// A process that is not our child: its exit status is learnt from the
// kernel's process events, as a monitor that replaced a lost one learns
// its container's.
func TestWatchExitOfNonChild(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("root test in CI without root")
		}
		t.Skip("needs root")
	}
	for _, tc := range []struct {
		name   string
		script string
		signal syscall.Signal
		want   int
	}{
		{"exit status", "read x; exit 5", 0, 5},
		{"signal", "read x; exit 0", syscall.SIGTERM, 128 + 15},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The shell starts the process in the background and exits:
			// the process goes to init, or a subreaper, not to us.
			pr, pw, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			defer pw.Close()
			cmd := exec.Command("sh", "-c", "sh -c '"+tc.script+"' <&3 >/dev/null 2>&1 & echo $!")
			cmd.ExtraFiles = []*os.File{pr}
			out, err := cmd.Output()
			pr.Close()
			if err != nil {
				t.Fatal(err)
			}
			pid, err := strconv.Atoi(strings.TrimSpace(string(out)))
			if err != nil {
				t.Fatal(err)
			}
			w, err := watchExit(pid)
			if err != nil {
				t.Fatal(err)
			}
			defer w.close()
			pidfd, err := unix.PidfdOpen(pid, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer unix.Close(pidfd)
			if tc.signal != 0 {
				unix.Kill(pid, tc.signal)
			}
			pw.Close() // the process reads EOF and exits
			code, err := w.wait(pidfd)
			if err != nil || code != tc.want {
				t.Errorf("exit code %d, %v; want %d", code, err, tc.want)
			}
		})
	}
}

func TestWaitStatusCode(t *testing.T) {
	for ws, want := range map[uint32]int{0: 0, 3 << 8: 3, 255 << 8: 255, 9: 137, 15: 143, 0x80 | 11: 139} {
		if got := waitStatusCode(ws); got != want {
			t.Errorf("wait status %#x: %d, want %d", ws, got, want)
		}
	}
}
