// Package runtime runs containers on runc's libcontainer: overlay root
// filesystems over image snapshots, a detached monitor per container, logs,
// restart policies and health probes.
package runtime

import (
	"encoding/json"
	"time"
)

// Spec is everything the runtime needs to create one container. The project
// package converts a compose service into a Spec; the runtime never sees
// compose types.
type Spec struct {
	// ID is the container's unique identifier (lowercase hex); Name is the
	// human name, <project>-<service>-<n>. Both must be unique in a root.
	ID   string
	Name string
	// Labels carry project, service, number, one-off and config hash.
	Labels map[string]string
	// Keeper names the group whose keeper watches the container once it
	// is started detached: the containers of a group share one process
	// (a project's, say). Empty gives the container a keeper of its own.
	Keeper string `json:",omitempty"`

	// Image names the image for display; Layers are its snapshot
	// directories, lowest first, stacked read-only under the container's
	// own upper directory.
	Image  string
	Layers []string

	// Process.
	Args     []string
	Env      []string // KEY=VALUE
	Cwd      string
	User     string // "", "name", "uid", "name:group", "uid:gid"
	GroupAdd []string
	Tty      bool
	Stdin    bool // keep stdin open (foreground runs)

	Hostname   string
	Domainname string

	// Mounts are applied after the root filesystem, parents before
	// children (by depth, in order otherwise).
	Mounts []Mount

	// Network selects the network namespace: NetworkPrivate (a new one
	// with only lo), NetworkHost, NetworkNone, or NetworkPath with NetNS
	// naming a bind-mounted namespace (made by links) to join.
	Network NetworkMode
	NetNS   string
	// Resolver, when set (with NetworkPath), runs an embedded name
	// server for the container at ResolverAddress.
	Resolver *Resolver
	// PIDNS / IPCNS, when set, name a /proc/PID/ns path to join
	// (pid: "service:x", ipc: "service:x"); "host" shares the host's.
	PIDNS string
	IPCNS string

	// Security.
	Privileged      bool
	ReadOnly        bool
	CapAdd          []string
	CapDrop         []string
	NoNewPrivileges bool
	Init            bool // run berth's minimal init as PID 1
	// SeccompUnconfined runs the container without a system call
	// filter. Otherwise it gets SeccompProfile, a profile in Docker's
	// JSON format (see runtime/seccomp), or, when that is empty,
	// berth's default profile, which has the effect of Docker's. A
	// privileged container is never filtered, as with Docker. (Left out
	// of spec.json when empty: a null read back would be taken for a
	// profile.)
	SeccompUnconfined bool
	SeccompProfile    json.RawMessage `json:",omitempty"`

	// Resources.
	Memory      int64   // bytes, 0 = unlimited
	MemorySwap  int64   // bytes, 0 = default, -1 = unlimited
	CPUs        float64 // 0 = unlimited
	CPUShares   uint64
	PidsLimit   int64 // 0 = unlimited
	ShmSize     int64 // bytes of /dev/shm, 0 = 64 MiB
	Ulimits     []Ulimit
	Sysctls     map[string]string
	OomScoreAdj *int

	// Lifecycle.
	StopSignal  string        // "SIGTERM" when empty
	StopTimeout time.Duration // 10s when zero
	Restart     RestartPolicy
	Healthcheck *Healthcheck

	// LogMaxSize rotates the log file when it passes this many bytes
	// (0: DefaultLogMaxSize); LogMaxFiles is how many files are kept,
	// the one being written included (0: DefaultLogMaxFiles).
	LogMaxSize  int64
	LogMaxFiles int
}

// NetworkMode says which network namespace a container gets.
type NetworkMode string

// Network modes.
const (
	NetworkPrivate NetworkMode = ""
	NetworkHost    NetworkMode = "host"
	NetworkNone    NetworkMode = "none"
	NetworkPath    NetworkMode = "path"
)

// Mount is one file system mounted into a container.
type Mount struct {
	// Type is "bind" or "tmpfs".
	Type     string
	Source   string // host path for bind
	Target   string // path in the container
	ReadOnly bool
	// Options are extra mount options ("size=64m", "mode=1777", "noexec").
	Options []string
	// Propagation is "", "rprivate", "rshared", "rslave", ...
	Propagation string
	// Subpath, for a bind whose Source is a volume's directory, is what
	// inside the volume to mount. Containers write volumes, so it is
	// resolved inside Source at every start, never on the host, and what
	// it resolved to is what gets mounted.
	Subpath string `json:",omitempty"`
}

// Ulimit is one resource limit, as setrlimit takes it.
type Ulimit struct {
	Name string // "nofile", "nproc", ...
	Soft int64
	Hard int64
}

// RestartPolicy says when the monitor starts a container again after it
// exits: "no", "always", "on-failure" (at most MaxRetries times when
// MaxRetries > 0) or "unless-stopped".
type RestartPolicy struct {
	Name       string
	MaxRetries int
}

// Healthcheck is a probe the monitor runs inside the container.
type Healthcheck struct {
	// Test is ["CMD", args...] or ["CMD-SHELL", command]; ["NONE"]
	// disables a check inherited from the image.
	Test          []string
	Interval      time.Duration
	Timeout       time.Duration
	StartPeriod   time.Duration
	StartInterval time.Duration
	Retries       int
}
