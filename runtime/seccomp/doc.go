// Package seccomp builds a container's system call filter: Docker's default
// profile, or a profile in Docker's JSON format, resolved into
// libcontainer's filter for the container's capabilities, the architecture
// berth runs on and the running kernel.
//
// The filter needs the seccomp build tag (libseccomp, linked in). A berth
// built without it runs containers unfiltered and refuses a custom
// profile, rather than starting none.
package seccomp
