package watch

import "errors"

// Errors the watcher returns for callers to branch on.
var (
	// ErrWatchLimit means the kernel refused another inotify watch:
	// fs.inotify.max_user_watches is reached.
	ErrWatchLimit = errors.New("inotify watch limit reached")
	// ErrInstanceLimit means the kernel refused another inotify
	// instance: fs.inotify.max_user_instances is reached.
	ErrInstanceLimit = errors.New("inotify instance limit reached")
	// ErrNoPath means a rule's path does not exist.
	ErrNoPath = errors.New("watched path does not exist")
)
