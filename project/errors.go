package project

import "errors"

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
)
