// Package berth is a daemonless, Compose-compatible tool that turns a compose
// file into a running multi-container development stack on Linux.
//
// The module is laid out by concept, and imports flow one way:
//
//	cmd/berth      the CLI: cobra commands, flags, output, error → exit code,
//	               and the libcontainer init hook that runs before main.
//	project        compose loading (compose-go), Fig v1 conversion, validation,
//	               the typed model, the dependency graph, the plan, and one
//	               file per verb (up, down, run, exec, logs, ps, ...).
//	runtime        containers on runc's libcontainer, root filesystems on
//	               overlayfs, the per-container monitor, logs, health probes.
//	runtime/image  the image store: an OCI layout, snapshots unpacked once per
//	               layer, import/load/save, pull and push.
//	runtime/build  the Dockerfile builder that runs on berth's own runtime.
//	links          per-project bridges, veth pairs, addresses, port publishing.
//	volumes        named, anonymous, bind and tmpfs mounts; volumes_from.
//	watch          recursive file watching and change batching.
//	templates      the starter projects of `berth init`, embedded (go:embed).
//	berthtest      throwaway stacks for Go tests, in process (berthtest.Up).
//	samples        runnable example projects; `make demo` runs one.
//	acceptance     black-box tests of the built binary, as root.
//	bench          benchmarks and their recorded results.
//
// cmd and berthtest import project (and, for the store-only image and volume commands,
// runtime/image and volumes); project joins runtime, links, volumes, watch
// and templates, which never import each other. Each command of cmd/berth
// parses its flags, calls one method and prints; only cmd/berth talks to
// the terminal. depcheck_test.go and .golangci.yml keep it so.
package berth
