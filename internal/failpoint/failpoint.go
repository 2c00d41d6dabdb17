// Package failpoint lets the acceptance tests kill berth at a chosen point
// of a command, so that they can check that what a command killed there
// leaves behind is cleaned up by the next one. A kill that races a timer
// hits a different point on every machine; a named point is hit on all.
//
// It is inert unless the environment variable BERTH_TEST_FAILPOINT names
// the point.
package failpoint

import (
	"os"
	"syscall"
)

// Env is the variable that names the point at which berth kills itself.
const Env = "BERTH_TEST_FAILPOINT"

var armed = os.Getenv(Env)

// Kill sends SIGKILL to this process when name is the armed point, as an
// OOM kill or a closed CI job would: nothing deferred runs.
func Kill(name string) {
	if armed != "" && armed == name {
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // the signal is delivered before this returns to Go code
	}
}
