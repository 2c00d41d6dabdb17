package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// errNeedsRoot is what a user without root privileges is told instead of
// the first permission error of the store.
var errNeedsRoot = errors.New("needs root: berth creates namespaces, mounts, network interfaces and firewall rules; run it as root (for example with sudo)")

// storage checks, once per command, that berth can use its root and state
// directories, and replaces them with their real paths: a root reached
// through a symlink (a relocated /var/lib) must be resolved once, because
// the kernel and libcontainer refuse a container root file system whose
// path goes through one.
func (g *globalOptions) storage() error {
	if g.storageChecked {
		return g.storageErr
	}
	g.storageChecked = true
	g.storageErr = g.resolveStorage()
	return g.storageErr
}

func (g *globalOptions) resolveStorage() error {
	if os.Geteuid() != 0 {
		return errNeedsRoot
	}
	for _, p := range []*string{&g.Root, &g.State} {
		abs, err := filepath.Abs(*p)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(abs, 0o700); err != nil {
			return fmt.Errorf("creating %s: %w", abs, err)
		}
		real, err := filepath.EvalSymlinks(abs)
		if err != nil {
			return fmt.Errorf("resolving %s: %w", abs, err)
		}
		*p = real
	}
	return nil
}
