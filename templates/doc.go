// Package templates holds the starter projects of `berth init`, embedded in
// the binary, and writes one into a directory with the project's name and
// image filled in. The files berth writes for containers (hosts,
// resolv.conf, hostname) are not rendered here: project and links write
// the network side, runtime the defaults.
package templates
