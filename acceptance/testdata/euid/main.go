// Command euid prints its real and effective user IDs: the store attack
// tests run a setuid-root copy of it as nobody, and a local user who can
// reach one in berth's store sees euid=0.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Printf("uid=%d euid=%d\n", os.Getuid(), os.Geteuid())
}
