// Command busyboxtar writes the busybox root file system that berth's
// tests and benchmarks use, as a tarball on standard output, for
// bench/peers.sh to import into berth, docker and podman alike.
package main

import (
	"fmt"
	"os"

	"github.com/berthdev/berth/internal/busybox"
)

func main() {
	if err := busybox.Tar(os.Stdout, busybox.Options{}); err != nil {
		fmt.Fprintln(os.Stderr, "busyboxtar:", err)
		os.Exit(1)
	}
}
