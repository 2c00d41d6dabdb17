// Package watch turns file system events under a project's source tree into
// batched change sets; it knows nothing of containers.
package watch
