// Package templates renders the files berth writes for containers (hosts,
// resolv.conf, hostname) and holds the starter projects of `berth init`.
package templates
