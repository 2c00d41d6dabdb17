package runtime

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// execLeftoverGrace is how long after a failed exec its leftovers are
// looked for: the kernel kills them along with a dying container at once,
// so they are zombies well within it.
const execLeftoverGrace = 10 * time.Second

// reapFailedExec reaps, in the background, what a failed exec leaves
// behind. libcontainer's exec forks its namespace-joining processes
// (runc:[1:CHILD], and runc:[2:INIT] inside the container's pid namespace)
// as children of this process, and waits for them only once they report
// their pids. When the container dies while they start (a health probe
// racing a stop), the exec fails before that, and nobody reaps them. A
// zombie left in the container's pid namespace keeps the container's init
// from ever finishing its exit, because the kernel waits for every task of
// the namespace to be reaped: the container's monitor then waited forever
// for a container it had killed, and stop and down timed out on it.
func reapFailedExec() {
	go func() {
		deadline := time.Now().Add(execLeftoverGrace)
		for {
			reapExecZombies()
			if time.Now().After(deadline) {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
}

// reapExecZombies reaps this process's zombie children that are exec
// processes which never became the command: a process that became it has
// the command's name, and libcontainer waits for it. libcontainer also
// waits for runc:[1:CHILD] of an exec that succeeds, and ignores finding
// it reaped already.
func reapExecZombies() {
	for _, pid := range children() {
		comm, state := procCommState(pid)
		if state != "Z" || (comm != "runc:[1:CHILD]" && comm != "runc:[2:INIT]") {
			continue
		}
		var ws unix.WaitStatus
		unix.Wait4(pid, &ws, unix.WNOHANG, nil)
	}
}

// children lists the children of every thread of this process.
func children() []int {
	files, _ := filepath.Glob("/proc/self/task/*/children")
	var out []int
	for _, f := range files {
		b, _ := os.ReadFile(f)
		for _, s := range strings.Fields(string(b)) {
			if pid, err := strconv.Atoi(s); err == nil {
				out = append(out, pid)
			}
		}
	}
	return out
}

// procCommState reads a process's name and state from /proc/PID/stat.
func procCommState(pid int) (comm, state string) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", ""
	}
	s := string(b)
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || end < open {
		return "", ""
	}
	f := strings.Fields(s[end+1:])
	if len(f) == 0 {
		return "", ""
	}
	return s[open+1 : end], f[0]
}
