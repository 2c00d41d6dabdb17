// Command berth is a daemonless, Compose-compatible tool for
// multi-container development stacks on Linux.
package main

import (
	"os"

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
}

func main() {
	os.Exit(run(os.Args[1:]))
}
