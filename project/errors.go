package project

import (
	"errors"
	"fmt"

	"github.com/berthdev/berth/templates"
)

// Errors the verbs return for callers to branch on.
var (
	// ErrNoContainers means the verb found no containers to act on.
	ErrNoContainers = errors.New("no containers")
	// ErrNoService means a named service is not in the project.
	ErrNoService = errors.New("no such service")
	// ErrDependencyFailed means a depends_on condition can never be met.
	ErrDependencyFailed = errors.New("dependency failed to start")
	// ErrNoComposeFile means no compose file was given or found.
	ErrNoComposeFile = errors.New("no compose file found")
	// ErrUnsupported marks a compose key berth does not implement.
	ErrUnsupported = errors.New("not supported by berth")
	// ErrCopyPaths means neither path of a copy names a service's
	// container (SERVICE:PATH).
	ErrCopyPaths = errors.New("one of the paths must be SERVICE:PATH")
	// ErrStarterExists means berth init found files of the starter in
	// its directory and wrote nothing.
	ErrStarterExists = templates.ErrExists
	// ErrNoStarter means berth init has no starter of that name.
	ErrNoStarter = templates.ErrNoStarter
)

// ExitError is a container's exit code, not 0, as the outcome of a verb
// that passes it on (up --exit-code-from).
type ExitError struct {
	Service string
	Code    int
}

func (e *ExitError) Error() string {
	return fmt.Sprintf("service %q exited with code %d", e.Service, e.Code)
}
