// Package reexec runs the roles in which berth re-executes itself: the
// container's libcontainer init, a container's monitor, and the minimal
// init mounted at runtime.InitPath. None of them loads a compose file, so
// none should pay for what the CLI needs: the compose schema compiler alone
// costs a process some 8 ms and 1.7 MB of heap at start.
//
// Go initializes packages in import-path order once their imports are done
// (the language spec fixes this since Go 1.21), so this package, which
// needs only libcontainer and berth's runtime, runs its init before the
// heavy CLI packages sorted after it (compose-go's loader, the JSON schema
// compiler, the project engine). Its init never returns in these roles.
// The berth binary and the test binaries that start containers import it
// for this side effect.
package reexec

import (
	"flag"
	"fmt"
	"os"
	goruntime "runtime"

	"github.com/berthdev/berth/runtime"
	"github.com/opencontainers/runc/libcontainer"
	_ "github.com/opencontainers/runc/libcontainer/nsenter" // the C constructor that sets up namespaces for init
)

func init() {
	// libcontainer re-executes this binary as the container's init with
	// os.Args[1] == "init" and its sync pipe in the environment. A user's
	// `berth init` has no such pipe, so it reaches the CLI.
	if len(os.Args) > 1 && os.Args[1] == "init" && os.Getenv("_LIBCONTAINER_SYNCPIPE") != "" {
		// Init does one thing after another until it executes the
		// container's process; a second P only adds threads to start.
		goruntime.GOMAXPROCS(1)
		// What berth's caller ignored must not reach the container.
		runtime.ResetIgnoredSignals()
		libcontainer.Init()
	}
	// Keep the main goroutine on the main thread, so no other goroutine
	// ever runs there. libcontainer joins a container's mount namespace on
	// a locked thread it then lets die; were that the main thread, which
	// Go cannot end, the process would stay in that namespace and keep the
	// container's mounts alive. The lock taken in an init function holds
	// for main too.
	goruntime.LockOSThread()

	if os.Args[0] == runtime.InitPath {
		// Mounted into a container as its minimal init.
		os.Exit(runtime.InitMain(os.Args[1:]))
	}
	if len(os.Args) > 1 && os.Args[1] == runtime.MonitorCommand {
		os.Exit(monitor(os.Args[2:]))
	}
}

// monitor runs a keeper from the arguments runtime.Start (or Adopt) gives
// it: --root DIR --state DIR --keeper GROUP.
func monitor(args []string) int {
	fs := flag.NewFlagSet(runtime.MonitorCommand, flag.ContinueOnError)
	root := fs.String("root", "", "berth root")
	state := fs.String("state", "", "berth state")
	group := fs.String("keeper", "", "the group of containers the keeper watches")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *root == "" || *state == "" || *group == "" || fs.NArg() != 0 {
		fmt.Fprintf(os.Stderr, "berth %s: needs --root, --state and --keeper\n", runtime.MonitorCommand)
		return 2
	}
	if err := runtime.RunKeeper(*root, *state, *group, os.NewFile(3, "ready")); err != nil {
		fmt.Fprintf(os.Stderr, "berth %s: %v\n", runtime.MonitorCommand, err)
		return 1
	}
	return 0
}
