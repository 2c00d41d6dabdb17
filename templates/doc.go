// Package templates holds the starter projects that `berth init` writes,
// embedded in the binary: for each, a compose file with develop.watch
// rules and a test service, a Dockerfile, a .dockerignore and a minimal
// application with its test.
package templates
