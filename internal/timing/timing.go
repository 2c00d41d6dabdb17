// Package timing records where a berth command spends its time: each step
// that calls Span appends one line to the file that the environment
// variable BERTH_TIMING names, from every berth process of the command (the
// CLI, a container's init, a keeper), so that bench/trace.sh can lay one
// run out as a table. It is inert, one branch per step, unless the
// variable is set.
package timing

import (
	"fmt"
	"os"
	"time"
)

// Env is the variable that names the file the steps are appended to.
const Env = "BERTH_TIMING"

var file = os.Getenv(Env)

// Span starts timing a step; the returned function ends it and records it
// as a line "PID NAME START_US DURATION_US", START_US counted from the
// Unix epoch so that lines of several processes sort together.
func Span(name string) func() {
	if file == "" {
		return func() {}
	}
	t := time.Now()
	return func() { record(name, t, time.Since(t)) }
}

func record(name string, t time.Time, d time.Duration) {
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return
	}
	// One write of one line: O_APPEND keeps lines of processes whole.
	fmt.Fprintf(f, "%d %s %d %d\n", os.Getpid(), name, t.UnixMicro(), d.Microseconds())
	f.Close()
}
