package statefile

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// A lock is an exclusive flock(2) on a lock file. The kernel drops it when
// the last descriptor of the file is closed, so a killed process never
// leaves one held.

// Lock takes the exclusive lock of the file at path, creating the file
// (0600) when it is missing, and waits until it gets it. unlock releases
// it.
func Lock(path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	return func() { f.Close() }, nil
}

// TryLock takes the exclusive lock of an open file without waiting. It
// reports false, and no error, when another descriptor holds the lock.
// The lock lasts as long as f is open.
func TryLock(f *os.File) (bool, error) {
	err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
	if errors.Is(err, unix.EWOULDBLOCK) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("locking %s: %w", f.Name(), err)
	}
	return true, nil
}

// LockShared takes a shared lock of an open file, waiting for an exclusive
// holder to let go. The lock lasts until Unlock or until f is closed.
func LockShared(f *os.File) error {
	if err := unix.Flock(int(f.Fd()), unix.LOCK_SH); err != nil {
		return fmt.Errorf("locking %s: %w", f.Name(), err)
	}
	return nil
}

// LockExclusive takes the exclusive lock of an open file, waiting for its
// holders to let go. The lock lasts until Unlock or until f is closed.
func LockExclusive(f *os.File) error {
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		return fmt.Errorf("locking %s: %w", f.Name(), err)
	}
	return nil
}

// Unlock releases the lock this descriptor of f holds.
func Unlock(f *os.File) error {
	return unix.Flock(int(f.Fd()), unix.LOCK_UN)
}

// Held reports whether another descriptor holds an exclusive lock on the
// file at path, by taking a shared lock for an instant. A missing file is
// not held.
func Held(path string) (bool, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer f.Close()
	err = unix.Flock(int(f.Fd()), unix.LOCK_SH|unix.LOCK_NB)
	if errors.Is(err, unix.EWOULDBLOCK) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("testing the lock of %s: %w", path, err)
	}
	return false, nil
}
