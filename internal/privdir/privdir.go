// Package privdir makes berth's private directories: the root and state
// directories and the parts of them that hold image and container content.
//
// Images may carry setuid-root programs, and a container's root can make
// more in its upper directory or in a volume. The kernel honours the setuid
// bit wherever the file is executed from, so a local user who can reach
// <root>/snapshots, <root>/containers/<id>/upper or a volume's data on the
// host becomes root (Docker's CVE-2021-41091). Every directory on the way to
// such content is therefore 0700, and one an older berth made more open is
// tightened the next time berth opens it.
//
// Docker uses 0710 and 0701 where the remapped root of --userns-remap needs
// to traverse. berth runs no container in a user namespace: the overlay root
// file systems are mounted, and volumes and files bind-mounted, by root in
// the host's namespaces, and the monitors run as root. No group needs access,
// so nothing is 0710; a user-namespace mode would give the mapped root's
// group 0710 on the root, containers/ and snapshots/.
package privdir

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Mode is the permission of a private directory.
const Mode fs.FileMode = 0o700

// Ensure makes dir with Mode (its missing parents 0755, as mkdir -p does)
// or, when it exists, takes away every permission beyond Mode. It never
// adds one.
func Ensure(dir string) error {
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return err
	}
	if err := os.Mkdir(dir, Mode); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s: not a directory", dir)
	}
	if perm := fi.Mode().Perm(); perm&^Mode != 0 {
		if err := os.Chmod(dir, perm&Mode); err != nil {
			return fmt.Errorf("making %s private: %w", dir, err)
		}
	}
	return nil
}

// EnsureAll is Ensure for each directory, in order.
func EnsureAll(dirs ...string) error {
	for _, d := range dirs {
		if err := Ensure(d); err != nil {
			return err
		}
	}
	return nil
}
