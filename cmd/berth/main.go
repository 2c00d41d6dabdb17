// Command berth is a daemonless, Compose-compatible tool for
// multi-container development stacks on Linux.
package main

import (
	"os"

	// The roles berth re-executes itself in (container init, monitor,
	// the minimal init) start from this package's init, before the CLI's
	// packages are initialized.
	_ "github.com/berthdev/berth/internal/reexec"
)

func main() {
	os.Exit(run(os.Args[1:]))
}
