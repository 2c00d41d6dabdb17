// Package testmain makes a test binary able to stand in for the berth
// binary in the roles the runtime re-executes it for: a container's init
// (libcontainer) and a container's monitor. Test packages that start
// containers import it for its side effect.
package testmain

import (
	"flag"
	"os"
	goruntime "runtime"

	"github.com/berthdev/berth/runtime"
	"github.com/opencontainers/runc/libcontainer"
	_ "github.com/opencontainers/runc/libcontainer/nsenter" // namespaces for init, before Go starts
)

func init() {
	if len(os.Args) > 1 && os.Args[1] == "init" && os.Getenv("_LIBCONTAINER_SYNCPIPE") != "" {
		libcontainer.Init()
	}
	// As in cmd/berth: keep libcontainer's namespace threads off the main
	// thread.
	goruntime.LockOSThread()
	if len(os.Args) > 1 && os.Args[1] == runtime.MonitorCommand {
		fs := flag.NewFlagSet("monitor", flag.ExitOnError)
		root := fs.String("root", "", "")
		state := fs.String("state", "", "")
		fs.Parse(os.Args[2:])
		if err := runtime.RunMonitor(*root, *state, fs.Arg(0), os.NewFile(3, "ready")); err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
}
