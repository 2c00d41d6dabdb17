package runtime

import (
	"errors"

	"github.com/berthdev/berth/runtime/seccomp"
)

// Sentinel errors callers branch on.
var (
	// ErrNotFound means no container has that ID or name.
	ErrNotFound = errors.New("no such container")
	// ErrExists means a container with that ID or name already exists.
	ErrExists = errors.New("container already exists")
	// ErrRunning means the operation needs a stopped container.
	ErrRunning = errors.New("container is running")
	// ErrNotRunning means the operation needs a running container.
	ErrNotRunning = errors.New("container is not running")
)

// Errors in a container's configuration, found before it starts.
var (
	// ErrLimit means a resource limit cannot be applied on this host.
	ErrLimit = errors.New("resource limit refused")
	// ErrUser means the user or group is unknown in the image.
	ErrUser = errors.New("unknown user")
	// ErrNoCommand means neither the service nor the image gives a command.
	ErrNoCommand = errors.New("no command")
	// ErrSignal means a signal name is not valid.
	ErrSignal = errors.New("invalid signal")
	// ErrSeccomp means a seccomp profile is not valid or cannot be applied.
	ErrSeccomp = seccomp.ErrInvalid
)
