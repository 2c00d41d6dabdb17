// Package project turns a compose project into containers: it loads and
// validates compose files, and it is the one orchestrator that joins the
// runtime, the image store, the networks (links) and the volumes to carry
// out each verb. Nothing below it sees a compose type: a service becomes a
// runtime.Spec here (spec.go), its networks links.AttachSpecs
// (networks.go), its volumes volumes.Store calls (volumes.go).
//
// # Reading a project
//
// Load (load.go) finds the compose files, converts Fig's v1 format
// (fig.go), reads port mappings compose-go would report without naming
// the service (precheck.go), and has compose-go interpolate, merge and
// check them against the schema, remembering what it validated
// (validcache.go). Validate (validate.go, checks.go) then refuses what
// berth cannot run or docker compose refuses, every problem at once as a
// ValidationError that names the file, the service and the field. What
// depends on the host (files, CPUs, free ports) is checked when a verb
// starts, before anything is created (checkHost, preflight).
//
// # Carrying out a verb
//
// An Engine (engine.go) holds the stores of one berth root, the builder
// included (build.go), and its methods are the verbs. Each verb has its
// file, named for it: up (and attach, an attached up following the stack
// by the runtime's events), down, run, exec, logs, ps, top, port, ls,
// images, build, pull, push, stop, start, restart, kill, pause, wait, rm,
// cp, events, watch, init. A verb that changes a project holds its lock
// file (lock.go) throughout. It finds the containers it acts on with one
// query of what the runtime reports (containers.go), orders services by
// their dependencies (graph.go), and reports what it does to each
// resource through Events. Sentinel errors (errors.go) tell the caller
// what went wrong where it branches on it: cmd/berth picks exit codes by
// them.
//
// up is a plan: reconcile (plan.go) compares the wanted services (config
// hash, image, scale) with the observed containers and says, per service,
// what to create, recreate, start, keep, restart or remove. It is a pure
// function, tested as a table. up then carries it out level by level,
// each level's services in parallel once their depends_on conditions are
// met.
//
// A container is made in create.go: its Spec from the service and the
// image (spec.go), its mounts (volumes.go, secrets.go), its network
// namespace and links (networks.go, or netshare.go for network_mode
// service: and container:), and the hosts files and name tables of its
// peers (hosts.go).
package project
