package runtime

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"golang.org/x/sys/unix"
)

// InitMain is berth's minimal init for containers with `init: true`: run
// as PID 1 (mounted at InitPath), it starts args, forwards every signal to
// it, reaps the zombies that orphaned processes leave, and returns the
// child's exit code once the child exits. It needs nothing from the image.
func InitMain(args []string) int {
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "berth-init: no command")
		return 127
	}
	sigs := make(chan os.Signal, 32)
	signal.Notify(sigs)
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	// The child gets the foreground of the terminal, if any, in a
	// process group of its own, so terminal signals reach it directly.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Foreground: isTerminal(0), Ctty: 0}
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "berth-init: %v\n", err)
		return 127
	}
	child := cmd.Process.Pid
	for sig := range sigs {
		if sig != unix.SIGCHLD {
			s := sig.(syscall.Signal)
			unix.Kill(-child, s) // the child's process group
			continue
		}
		for {
			var ws unix.WaitStatus
			pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
			if pid == child {
				if ws.Signaled() {
					return 128 + int(ws.Signal())
				}
				return ws.ExitStatus()
			}
		}
	}
	return 0
}

func isTerminal(fd int) bool {
	_, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	return err == nil
}
