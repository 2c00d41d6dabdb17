// Package watch turns file system events under a project's source tree into
// batched change sets; it knows nothing of containers.
//
// A Watcher watches every directory of its rules' trees with inotify (through
// fsnotify), one watch per directory, and adds directories as they appear.
// Directories that a rule ignores as a whole (.git, an ignored node_modules)
// are never watched, so they cost no inotify watches. Each event is checked
// against the rules' ignore and include patterns and handed to a batcher,
// which emits a change set once the tree has been quiet for a moment: a few
// milliseconds after a single edit, longer once the batch looks like a burst
// (a branch switch, an npm install), so a burst is one change set.
//
// The watcher remembers the size, mode and modification time of what it has
// seen. When the kernel's event queue overflows, events have been lost: the
// trees are walked again and the differences from what was remembered become
// a change set, so nothing is silently missed.
//
// A Change names a path and the rule it falls under; whoever applies it
// looks at the path again (exists: copy it; gone: delete it), so a change set
// needs no record of what kind of event led to it.
package watch
