// Command berth is a daemonless, Compose-compatible tool for
// multi-container development stacks on Linux.
package main

import (
	"os"
	goruntime "runtime"

	"github.com/berthdev/berth/runtime"
	"github.com/opencontainers/runc/libcontainer"
	_ "github.com/opencontainers/runc/libcontainer/nsenter" // the C constructor that sets up namespaces for init
)

func init() {
	// libcontainer re-executes this binary as the container's init with
	// os.Args[1] == "init" and its sync pipe in the environment. A user's
	// `berth init` has no such pipe, so it reaches the CLI below.
	if len(os.Args) > 1 && os.Args[1] == "init" && os.Getenv("_LIBCONTAINER_SYNCPIPE") != "" {
		libcontainer.Init()
	}
	// Keep the main goroutine on the main thread, so no other goroutine
	// ever runs there. libcontainer joins a container's mount namespace on
	// a locked thread it then lets die; were that the main thread, which
	// Go cannot end, the process would stay in that namespace and keep the
	// container's mounts alive.
	goruntime.LockOSThread()
}

func main() {
	if os.Args[0] == runtime.InitPath {
		// Mounted into a container as its minimal init.
		os.Exit(runtime.InitMain(os.Args[1:]))
	}
	os.Exit(run(os.Args[1:]))
}
