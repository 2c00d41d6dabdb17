// Command berth is a daemonless, Compose-compatible tool for
// multi-container development stacks on Linux.
package main

import (
	"os"
	"runtime/debug"

	// The roles berth re-executes itself in (container init, monitor,
	// the minimal init) start from this package's init, before the CLI's
	// packages are initialized.
	_ "github.com/berthdev/berth/internal/reexec"
)

func main() {
	// Most commands are over in a fraction of a second; collecting their
	// garbage would only delay them. Long ones (attached up, logs -f)
	// still collect, with a heap up to five times what is live.
	debug.SetGCPercent(400)
	os.Exit(run(os.Args[1:]))
}
