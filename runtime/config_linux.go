package runtime

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"github.com/moby/sys/user"
	_ "github.com/opencontainers/cgroups/devices" // lets the cgroup manager apply device rules
	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/configs"
	"github.com/opencontainers/runc/libcontainer/specconv"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// defaultCaps is Docker's default capability set.
var defaultCaps = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
	"CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
	"CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
}

// allCaps lists every capability the running kernel knows, for privileged
// containers and for cap_add: ALL.
func allCaps() []string {
	last := 40
	if b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap"); err == nil {
		fmt.Sscanf(strings.TrimSpace(string(b)), "%d", &last)
	}
	var out []string
	for i := 0; i <= last; i++ {
		if n, ok := capNames[i]; ok {
			out = append(out, n)
		}
	}
	return out
}

var capNames = map[int]string{
	0: "CAP_CHOWN", 1: "CAP_DAC_OVERRIDE", 2: "CAP_DAC_READ_SEARCH", 3: "CAP_FOWNER",
	4: "CAP_FSETID", 5: "CAP_KILL", 6: "CAP_SETGID", 7: "CAP_SETUID", 8: "CAP_SETPCAP",
	9: "CAP_LINUX_IMMUTABLE", 10: "CAP_NET_BIND_SERVICE", 11: "CAP_NET_BROADCAST",
	12: "CAP_NET_ADMIN", 13: "CAP_NET_RAW", 14: "CAP_IPC_LOCK", 15: "CAP_IPC_OWNER",
	16: "CAP_SYS_MODULE", 17: "CAP_SYS_RAWIO", 18: "CAP_SYS_CHROOT", 19: "CAP_SYS_PTRACE",
	20: "CAP_SYS_PACCT", 21: "CAP_SYS_ADMIN", 22: "CAP_SYS_BOOT", 23: "CAP_SYS_NICE",
	24: "CAP_SYS_RESOURCE", 25: "CAP_SYS_TIME", 26: "CAP_SYS_TTY_CONFIG", 27: "CAP_MKNOD",
	28: "CAP_LEASE", 29: "CAP_AUDIT_WRITE", 30: "CAP_AUDIT_CONTROL", 31: "CAP_SETFCAP",
	32: "CAP_MAC_OVERRIDE", 33: "CAP_MAC_ADMIN", 34: "CAP_SYSLOG", 35: "CAP_WAKE_ALARM",
	36: "CAP_BLOCK_SUSPEND", 37: "CAP_AUDIT_READ", 38: "CAP_PERFMON", 39: "CAP_BPF",
	40: "CAP_CHECKPOINT_RESTORE",
}

// hostCaps is the capability bounding set berth itself holds: a container
// cannot be given what its creator lacks (CAP_SYS_RESOURCE, on some hosts).
func hostCaps() map[string]bool {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return nil
	}
	var mask uint64
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "CapBnd:"); ok {
			fmt.Sscanf(strings.TrimSpace(v), "%x", &mask)
		}
	}
	out := map[string]bool{}
	for i, n := range capNames {
		if mask&(1<<uint(i)) != 0 {
			out[n] = true
		}
	}
	return out
}

func normCap(c string) string {
	c = strings.ToUpper(strings.TrimSpace(c))
	if c != "ALL" && !strings.HasPrefix(c, "CAP_") {
		c = "CAP_" + c
	}
	return c
}

// capabilities resolves the default set with cap_add and cap_drop, as
// Docker does: ALL in cap_add means every capability, ALL in cap_drop means
// none but those added.
func capabilities(s *Spec) ([]string, error) {
	known := map[string]bool{"ALL": true}
	for _, n := range capNames {
		known[n] = true
	}
	var add, drop []string
	for _, c := range s.CapAdd {
		c = normCap(c)
		if !known[c] {
			return nil, fmt.Errorf("cap_add: unknown capability %q", c)
		}
		add = append(add, c)
	}
	for _, c := range s.CapDrop {
		c = normCap(c)
		if !known[c] {
			return nil, fmt.Errorf("cap_drop: unknown capability %q", c)
		}
		drop = append(drop, c)
	}
	var caps []string
	switch {
	case s.Privileged || slices.Contains(add, "ALL"):
		caps = allCaps()
	case slices.Contains(drop, "ALL"):
		caps = nil
	default:
		caps = slices.Clone(defaultCaps)
	}
	for _, c := range add {
		if c != "ALL" && !slices.Contains(caps, c) {
			caps = append(caps, c)
		}
	}
	if !s.Privileged {
		caps = slices.DeleteFunc(caps, func(c string) bool {
			return slices.Contains(drop, c) && !slices.Contains(add, c)
		})
	}
	if have := hostCaps(); have != nil {
		caps = slices.DeleteFunc(caps, func(c string) bool { return !have[c] })
	}
	return caps, nil
}

// rootfsFile is a file berth writes for each container and bind-mounts
// over the image's copy, unless the Spec mounts its own.
type rootfsFile struct{ name, target string }

var etcFiles = []rootfsFile{
	{"hosts", "/etc/hosts"},
	{"hostname", "/etc/hostname"},
	{"resolv.conf", "/etc/resolv.conf"},
}

func hasMount(s *Spec, target string) bool {
	for _, m := range s.Mounts {
		if filepath.Clean(m.Target) == target {
			return true
		}
	}
	return false
}

// ociSpec turns a Spec into an OCI runtime spec over rootfs; libcontainer's
// specconv then makes the libcontainer config from it, so berth gets the
// same defaults (devices, masked paths, mounts) that runc gives.
func ociSpec(s *Spec, rootfs, dir string) (*specs.Spec, error) {
	o := specconv.Example()
	o.Root = &specs.Root{Path: rootfs, Readonly: s.ReadOnly}
	o.Hostname = s.Hostname
	if o.Hostname == "" {
		o.Hostname = shortID(s.ID)
	}
	o.Domainname = s.Domainname
	o.Process.Terminal = s.Tty
	o.Process.NoNewPrivileges = s.NoNewPrivileges
	o.Process.OOMScoreAdj = s.OomScoreAdj
	o.Process.Rlimits = nil
	caps, err := capabilities(s)
	if err != nil {
		return nil, err
	}
	o.Process.Capabilities = &specs.LinuxCapabilities{Bounding: caps, Effective: caps, Permitted: caps}
	if s.Privileged {
		o.Linux.MaskedPaths = nil
		o.Linux.ReadonlyPaths = nil
	} else {
		o.Linux.MaskedPaths = append(o.Linux.MaskedPaths, "/proc/interrupts", "/proc/sys/dev/cdrom", "/sys/devices/virtual/powercap")
	}

	shm := s.ShmSize
	if shm <= 0 {
		shm = 64 << 20
	}
	for i := range o.Mounts {
		switch o.Mounts[i].Destination {
		case "/dev/shm":
			o.Mounts[i].Options = []string{"nosuid", "noexec", "nodev", "mode=1777", fmt.Sprintf("size=%d", shm)}
		case "/sys", "/sys/fs/cgroup":
			if s.Privileged {
				o.Mounts[i].Options = slices.DeleteFunc(o.Mounts[i].Options, func(x string) bool { return x == "ro" })
			}
		}
	}
	if s.Network == NetworkHost {
		// A sysfs mount needs a network namespace of its own; share the host's.
		for i := range o.Mounts {
			if o.Mounts[i].Destination == "/sys" {
				o.Mounts[i] = specs.Mount{Destination: "/sys", Type: "bind", Source: "/sys", Options: []string{"rbind", "nosuid", "noexec", "nodev", "ro"}}
			}
		}
	}
	var mounts []specs.Mount
	for _, m := range s.Mounts {
		om, err := ociMount(m)
		if err != nil {
			return nil, err
		}
		mounts = append(mounts, om)
	}
	for _, f := range etcFiles {
		if hasMount(s, f.target) {
			continue
		}
		if f.name == "hostname" && s.Network == NetworkHost && s.Hostname == "" {
			continue
		}
		mounts = append(mounts, specs.Mount{Destination: f.target, Type: "bind", Source: filepath.Join(dir, f.name), Options: []string{"rbind", "rprivate"}})
	}
	if s.Init {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("finding the berth binary for init: %w", err)
		}
		mounts = append(mounts, specs.Mount{Destination: InitPath, Type: "bind", Source: exe, Options: []string{"bind", "ro"}})
	}
	// As Docker, parents before children: a volume at /etc must not hide
	// the /etc/hosts mounted before it.
	slices.SortStableFunc(mounts, func(a, b specs.Mount) int { return mountDepth(a.Destination) - mountDepth(b.Destination) })
	o.Mounts = append(o.Mounts, mounts...)

	o.Linux.Namespaces = []specs.LinuxNamespace{{Type: specs.MountNamespace}, {Type: specs.UTSNamespace}, {Type: specs.CgroupNamespace}}
	switch s.PIDNS {
	case "":
		o.Linux.Namespaces = append(o.Linux.Namespaces, specs.LinuxNamespace{Type: specs.PIDNamespace})
	case "host":
	default:
		o.Linux.Namespaces = append(o.Linux.Namespaces, specs.LinuxNamespace{Type: specs.PIDNamespace, Path: s.PIDNS})
	}
	switch s.IPCNS {
	case "":
		o.Linux.Namespaces = append(o.Linux.Namespaces, specs.LinuxNamespace{Type: specs.IPCNamespace})
	case "host":
	default:
		o.Linux.Namespaces = append(o.Linux.Namespaces, specs.LinuxNamespace{Type: specs.IPCNamespace, Path: s.IPCNS})
	}
	switch s.Network {
	case NetworkHost:
	case NetworkPath:
		if s.NetNS == "" {
			return nil, fmt.Errorf("network mode %q needs a namespace path", s.Network)
		}
		o.Linux.Namespaces = append(o.Linux.Namespaces, specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: s.NetNS})
	default:
		o.Linux.Namespaces = append(o.Linux.Namespaces, specs.LinuxNamespace{Type: specs.NetworkNamespace})
	}
	if s.Network == NetworkHost && s.Hostname == "" {
		// Like Docker: host networking keeps the host's name.
		o.Linux.Namespaces = slices.DeleteFunc(o.Linux.Namespaces, func(n specs.LinuxNamespace) bool { return n.Type == specs.UTSNamespace })
		o.Hostname = ""
	}
	o.Linux.Sysctl = s.Sysctls
	o.Linux.CgroupsPath = "/berth/" + s.ID

	res := o.Linux.Resources
	if s.Privileged {
		res.Devices = []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}}
	}
	if s.Memory > 0 || s.MemorySwap != 0 {
		res.Memory = &specs.LinuxMemory{}
		if s.Memory > 0 {
			res.Memory.Limit = &s.Memory
		}
		if s.MemorySwap != 0 {
			sw := s.MemorySwap
			res.Memory.Swap = &sw
		}
	}
	if s.CPUs > 0 || s.CPUShares > 0 {
		res.CPU = &specs.LinuxCPU{}
		if s.CPUs > 0 {
			period := uint64(100000)
			quota := int64(math.Round(s.CPUs * float64(period)))
			res.CPU.Period, res.CPU.Quota = &period, &quota
		}
		if s.CPUShares > 0 {
			sh := s.CPUShares
			res.CPU.Shares = &sh
		}
	}
	if s.PidsLimit > 0 {
		res.Pids = &specs.LinuxPids{Limit: &s.PidsLimit}
	}
	return o, nil
}

// mountDepth counts a mount target's path elements.
func mountDepth(target string) int {
	return strings.Count(filepath.Clean("/"+target), "/")
}

func ociMount(m Mount) (specs.Mount, error) {
	if !filepath.IsAbs(m.Target) {
		return specs.Mount{}, fmt.Errorf("mount target %q is not an absolute path", m.Target)
	}
	switch m.Type {
	case "bind", "":
		opts := []string{"rbind"}
		if m.ReadOnly {
			opts = append(opts, "ro")
		}
		prop := m.Propagation
		if prop == "" {
			prop = "rprivate"
		}
		opts = append(opts, prop)
		opts = append(opts, m.Options...)
		return specs.Mount{Destination: m.Target, Type: "bind", Source: m.Source, Options: opts}, nil
	case "tmpfs":
		opts := []string{"nosuid", "nodev"}
		if m.ReadOnly {
			opts = append(opts, "ro")
		}
		opts = append(opts, m.Options...)
		return specs.Mount{Destination: m.Target, Type: "tmpfs", Source: "tmpfs", Options: opts}, nil
	default:
		return specs.Mount{}, fmt.Errorf("mount %s: unsupported type %q", m.Target, m.Type)
	}
}

// libcontainerConfig is the libcontainer configuration of a Spec whose root
// file system is mounted at rootfs; dir is the container's directory.
func libcontainerConfig(s *Spec, rootfs, dir string) (*configs.Config, error) {
	o, err := ociSpec(s, rootfs, dir)
	if err != nil {
		return nil, err
	}
	cfg, err := specconv.CreateLibcontainerConfig(&specconv.CreateOpts{CgroupName: s.ID, Spec: o, NoNewKeyring: true})
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", s.Name, err)
	}
	if cfg.Seccomp, err = seccompConfig(s, o.Process.Capabilities.Bounding); err != nil {
		return nil, fmt.Errorf("container %s: %w", s.Name, err)
	}
	if s.Network == NetworkPrivate || s.Network == NetworkNone {
		cfg.Networks = []*configs.Network{{Type: "loopback", Address: "127.0.0.1/0", Gateway: "localhost"}}
	}
	return cfg, nil
}

// rlimits converts ulimits, refusing before start any hard limit above
// berth's own: raising one needs CAP_SYS_RESOURCE, which a process may lack.
func rlimits(us []Ulimit) ([]configs.Rlimit, error) {
	var out []configs.Rlimit
	for _, u := range us {
		res, ok := rlimitNames[strings.ToLower(u.Name)]
		if !ok {
			return nil, fmt.Errorf("ulimits: unknown limit %q", u.Name)
		}
		if u.Soft > u.Hard && u.Hard >= 0 {
			return nil, fmt.Errorf("ulimits: %s soft limit %d is above its hard limit %d", u.Name, u.Soft, u.Hard)
		}
		var cur unix.Rlimit
		if err := unix.Getrlimit(res, &cur); err == nil && uint64(u.Hard) > cur.Max && !hostCaps()["CAP_SYS_RESOURCE"] {
			return nil, fmt.Errorf("%w: ulimits: %s hard limit %d is above the host's %d, and raising it needs CAP_SYS_RESOURCE, which berth does not have", ErrLimit, u.Name, u.Hard, cur.Max)
		}
		out = append(out, configs.Rlimit{Type: res, Soft: uint64(u.Soft), Hard: uint64(u.Hard)})
	}
	return out, nil
}

var rlimitNames = map[string]int{
	"core": unix.RLIMIT_CORE, "cpu": unix.RLIMIT_CPU, "data": unix.RLIMIT_DATA,
	"fsize": unix.RLIMIT_FSIZE, "locks": unix.RLIMIT_LOCKS, "memlock": unix.RLIMIT_MEMLOCK,
	"msgqueue": unix.RLIMIT_MSGQUEUE, "nice": unix.RLIMIT_NICE, "nofile": unix.RLIMIT_NOFILE,
	"nproc": unix.RLIMIT_NPROC, "rss": unix.RLIMIT_RSS, "rtprio": unix.RLIMIT_RTPRIO,
	"rttime": unix.RLIMIT_RTTIME, "sigpending": unix.RLIMIT_SIGPENDING, "stack": unix.RLIMIT_STACK,
	"as": unix.RLIMIT_AS,
}

// ExecUser is a user resolved against a root file system.
type ExecUser struct {
	UID, GID int
	Groups   []int
	Home     string
}

// ResolveUser resolves "name", "uid", "name:group" or "uid:gid" and extra
// groups against rootfs's /etc/passwd and /etc/group, as Docker does.
func ResolveUser(rootfs, spec string, groupAdd []string) (ExecUser, error) {
	passwd := readInRoot(rootfs, "/etc/passwd")
	group := readInRoot(rootfs, "/etc/group")
	def := user.ExecUser{Uid: 0, Gid: 0, Home: "/"}
	eu, err := user.GetExecUser(spec, &def, readerOf(passwd), readerOf(group))
	if err != nil {
		return ExecUser{}, fmt.Errorf("%w: user %q: %v", ErrUser, spec, err)
	}
	out := ExecUser{UID: eu.Uid, GID: eu.Gid, Groups: eu.Sgids, Home: eu.Home}
	if len(groupAdd) > 0 {
		gids, err := user.GetAdditionalGroups(groupAdd, readerOf(group))
		if err != nil {
			return ExecUser{}, fmt.Errorf("%w: group_add %v: %v", ErrUser, groupAdd, err)
		}
		out.Groups = append(out.Groups, gids...)
	}
	return out, nil
}

// readInRoot reads a regular file of a root file system that a running
// container may be changing: it is opened inside rootfs, symlinks followed
// as if rootfs were /, never on the host. Anything else (missing, not a
// regular file, unreadable) reads as nil, which user lookups take as an
// absent file.
func readInRoot(rootfs, p string) []byte {
	h, err := pathrs.OpenInRoot(rootfs, p)
	if err != nil {
		return nil
	}
	defer h.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(h.Fd()), &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil
	}
	f, err := pathrs.Reopen(h, unix.O_RDONLY)
	if err != nil {
		return nil
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 16<<20))
	if err != nil {
		return nil
	}
	return b
}

// readerOf reads b, or is no reader at all for nil.
func readerOf(b []byte) io.Reader {
	if b == nil {
		return nil
	}
	return bytes.NewReader(b)
}

// processFor builds the libcontainer process for args in a container whose
// root file system is mounted at rootfs.
func processFor(s *Spec, rootfs string, args, env []string, cwd, usr string, init bool) (*libcontainer.Process, error) {
	eu, err := ResolveUser(rootfs, usr, s.GroupAdd)
	if err != nil {
		return nil, err
	}
	if !hasEnv(env, "PATH") {
		env = append(env, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
	}
	if !hasEnv(env, "HOSTNAME") && s.Hostname != "" {
		env = append(env, "HOSTNAME="+s.Hostname)
	}
	if !hasEnv(env, "HOME") {
		env = append(env, "HOME="+eu.Home)
	}
	if s.Tty && !hasEnv(env, "TERM") {
		env = append(env, "TERM=xterm")
	}
	if cwd == "" {
		cwd = "/"
	}
	if len(args) == 0 {
		return nil, fmt.Errorf("%w: container %s has no command: give the service a command or use an image with an entrypoint or cmd", ErrNoCommand, s.Name)
	}
	if s.Init && init {
		args = append([]string{InitPath, "--"}, args...)
	}
	rl, err := rlimits(s.Ulimits)
	if err != nil {
		return nil, err
	}
	return &libcontainer.Process{
		Args:             args,
		Env:              env,
		Cwd:              cwd,
		UID:              eu.UID,
		GID:              eu.GID,
		AdditionalGroups: eu.Groups,
		Rlimits:          rl,
		Init:             init,
	}, nil
}

func hasEnv(env []string, key string) bool {
	for _, e := range env {
		if k, _, _ := strings.Cut(e, "="); k == key {
			return true
		}
	}
	return false
}

// signalByName parses "SIGTERM", "TERM" or "15".
func signalByName(name string) (syscall.Signal, error) {
	if name == "" {
		return syscall.SIGTERM, nil
	}
	n := strings.ToUpper(strings.TrimSpace(name))
	var num int
	if _, err := fmt.Sscanf(n, "%d", &num); err == nil && fmt.Sprint(num) == n {
		if num <= 0 || num > 64 {
			return 0, fmt.Errorf("%w: %q", ErrSignal, name)
		}
		return syscall.Signal(num), nil
	}
	if !strings.HasPrefix(n, "SIG") {
		n = "SIG" + n
	}
	if s := unix.SignalNum(n); s != 0 {
		return s, nil
	}
	return 0, fmt.Errorf("%w: %q", ErrSignal, name)
}

// ParseSignal parses a signal name or number as compose files write them.
func ParseSignal(name string) (syscall.Signal, error) { return signalByName(name) }
