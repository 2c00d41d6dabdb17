package runtime

import (
	"context"
	"errors"
	"fmt"
	"github.com/berthdev/berth/internal/timing"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/berthdev/berth/internal/failpoint"
	"github.com/berthdev/berth/internal/privdir"
	"github.com/berthdev/berth/internal/statefile"
)

// Runtime creates and runs containers whose persistent data lives under
// root (containers/<id>/) and whose runtime state lives under state.
type Runtime struct {
	root  string
	state string
	exe   string
}

// Option changes how a Runtime is opened.
type Option func(*Runtime)

// WithExecutable names the binary started as a container's monitor; it must
// dispatch MonitorCommand to RunKeeper (the berth binary, or a test binary
// whose TestMain does). The default is the running executable.
func WithExecutable(path string) Option { return func(r *Runtime) { r.exe = path } }

// Open returns the runtime over root and state, creating their directories.
func Open(root, state string, opts ...Option) (*Runtime, error) {
	var err error
	r := &Runtime{}
	if r.root, err = filepath.Abs(root); err != nil {
		return nil, err
	}
	if r.state, err = filepath.Abs(state); err != nil {
		return nil, err
	}
	for _, o := range opts {
		o(r)
	}
	if r.exe == "" {
		if r.exe, err = os.Executable(); err != nil {
			return nil, fmt.Errorf("finding the berth binary: %w", err)
		}
	}
	// Containers' upper directories hold whatever setuid files their
	// root made: no other user may reach them (see internal/privdir).
	if err := privdir.EnsureAll(r.root, r.state, filepath.Join(r.root, "containers"), r.lcRoot()); err != nil {
		return nil, err
	}
	// libcontainer refuses a root file system whose path goes through a
	// symlink (a relocated /var/lib, say): the real paths are used.
	for _, p := range []*string{&r.root, &r.state} {
		if *p, err = filepath.EvalSymlinks(*p); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// Root is the persistent data directory.
func (r *Runtime) Root() string { return r.root }

// State is the runtime state directory.
func (r *Runtime) State() string { return r.state }

func (r *Runtime) lcRoot() string          { return filepath.Join(r.state, "runc") }
func (r *Runtime) dir(id string) string    { return filepath.Join(r.root, "containers", id) }
func (r *Runtime) rootfs(id string) string { return filepath.Join(r.dir(id), "rootfs") }

// Info is what is known of one container, reconciled with the processes
// actually running: a status file that says "running" over a dead process
// is reported as exited.
type Info struct {
	ID           string
	Name         string
	Labels       map[string]string
	Image        string
	Status       Status
	ExitCode     int
	Error        string
	Pid          int
	Created      time.Time
	StartedAt    time.Time
	FinishedAt   time.Time
	RestartCount int
	Health       string
	HealthLog    []Probe
	// MonitorAlive is false when the container runs on without its
	// monitor (it was killed): no logs are collected, and the exit code
	// will not be known.
	MonitorAlive bool
	// Dir is the container's directory; UpperDir its overlay upper
	// directory (the container's changes); Rootfs the merged view,
	// mounted while the container runs.
	Dir      string
	UpperDir string
	Rootfs   string
	Spec     Spec
}

var idPattern = regexp.MustCompile(`^[a-f0-9]{12,64}$`)

// Create records a new container; nothing runs until Start or Run.
func (r *Runtime) Create(ctx context.Context, s Spec) (Info, error) {
	defer timing.Span("runtime: create")()
	if !idPattern.MatchString(s.ID) {
		return Info{}, fmt.Errorf("container ID %q: want 12 to 64 lowercase hex digits", s.ID)
	}
	if s.Name == "" {
		s.Name = s.ID
	}
	// Everything that can be checked before a process exists is checked
	// now, so a bad spec never leaves a half-made container.
	caps, err := capabilities(&s)
	if err != nil {
		return Info{}, fmt.Errorf("container %s: %w", s.Name, err)
	}
	if _, err := seccompConfig(&s, caps); err != nil {
		return Info{}, fmt.Errorf("container %s: %w", s.Name, err)
	}
	if _, err := rlimits(s.Ulimits); err != nil {
		return Info{}, fmt.Errorf("container %s: %w", s.Name, err)
	}
	if _, err := signalByName(s.StopSignal); err != nil {
		return Info{}, fmt.Errorf("container %s: stop signal: %w", s.Name, err)
	}
	for _, m := range s.Mounts {
		if _, err := ociMount(m); err != nil {
			return Info{}, fmt.Errorf("container %s: %w", s.Name, err)
		}
	}
	unlock, err := statefile.Lock(filepath.Join(r.root, "containers", ".lock"))
	if err != nil {
		return Info{}, err
	}
	defer unlock()
	if err := r.sweepLeftovers(); err != nil {
		return Info{}, fmt.Errorf("removing what an interrupted create or remove left: %w", err)
	}
	if _, err := os.Stat(r.dir(s.ID)); err == nil {
		return Info{}, fmt.Errorf("%w: %s", ErrExists, s.ID)
	}
	if id, err := r.lookupName(s.Name); err == nil {
		return Info{}, fmt.Errorf("%w: the name %q is in use by container %s", ErrExists, s.Name, shortID(id))
	}
	dir := r.dir(s.ID)
	tmp := dir + ".creating"
	os.RemoveAll(tmp)
	if err := os.Mkdir(tmp, 0o700); err != nil {
		return Info{}, err
	}
	// upper's mode is the mode of the container's "/", so it stays
	// traversable; the 0700 directories above it keep other users out.
	for _, d := range []string{"upper", "work", "rootfs", "lower"} {
		if err := os.MkdirAll(filepath.Join(tmp, d), 0o711); err != nil {
			return Info{}, err
		}
	}
	if err := writeEtcFiles(tmp, &s); err != nil {
		os.RemoveAll(tmp)
		return Info{}, err
	}
	if err := statefile.WriteJSON(filepath.Join(tmp, "spec.json"), &s, statefile.Options{}); err != nil {
		os.RemoveAll(tmp)
		return Info{}, err
	}
	if err := statefile.WriteJSON(filepath.Join(tmp, "status.json"), &record{Status: StatusCreated}, statefile.Options{}); err != nil {
		os.RemoveAll(tmp)
		return Info{}, err
	}
	failpoint.Kill("container-creating")
	if err := os.Rename(tmp, dir); err != nil {
		os.RemoveAll(tmp)
		return Info{}, err
	}
	r.event("create", s.ID, &s)
	return r.Inspect(ctx, s.ID)
}

// writeEtcFiles writes the container's default hosts, hostname and
// resolv.conf; a caller that manages them mounts its own over the targets.
func writeEtcFiles(dir string, s *Spec) error {
	host := s.Hostname
	if host == "" {
		host = shortID(s.ID)
	}
	hosts := "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
	if s.Network != NetworkHost {
		hosts += "127.0.1.1\t" + host + "\n"
	} else if b, err := os.ReadFile("/etc/hosts"); err == nil {
		hosts = string(b)
	}
	files := map[string]string{
		"hosts":       hosts,
		"hostname":    host + "\n",
		"resolv.conf": HostResolvConf(),
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// HostResolvConf is the host's resolv.conf without loopback name servers,
// which mean nothing inside a container's own network namespace.
func HostResolvConf() string {
	for _, p := range []string{"/run/systemd/resolve/resolv.conf", "/etc/resolv.conf"} {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		var out []string
		for _, l := range strings.Split(string(b), "\n") {
			f := strings.Fields(l)
			if len(f) >= 2 && f[0] == "nameserver" && (strings.HasPrefix(f[1], "127.") || f[1] == "::1") {
				continue
			}
			out = append(out, l)
		}
		return strings.TrimRight(strings.Join(out, "\n"), "\n") + "\n"
	}
	return ""
}

func (r *Runtime) lookupName(name string) (string, error) {
	ents, err := os.ReadDir(filepath.Join(r.root, "containers"))
	if err != nil {
		return "", err
	}
	for _, e := range ents {
		if !e.IsDir() || !idPattern.MatchString(e.Name()) {
			continue
		}
		var s Spec
		if err := statefile.ReadJSON(filepath.Join(r.dir(e.Name()), "spec.json"), &s); err == nil && s.Name == name {
			return e.Name(), nil
		}
	}
	return "", fmt.Errorf("%w: %s", ErrNotFound, name)
}

// Resolve finds a container by ID, unique ID prefix or name.
func (r *Runtime) Resolve(ref string) (string, error) {
	if idPattern.MatchString(ref) {
		if _, err := os.Stat(filepath.Join(r.dir(ref), "spec.json")); err == nil {
			return ref, nil
		}
	}
	if id, err := r.lookupName(ref); err == nil {
		return id, nil
	}
	if len(ref) >= 4 && regexp.MustCompile(`^[a-f0-9]+$`).MatchString(ref) {
		ents, _ := os.ReadDir(filepath.Join(r.root, "containers"))
		var found []string
		for _, e := range ents {
			if idPattern.MatchString(e.Name()) && strings.HasPrefix(e.Name(), ref) {
				found = append(found, e.Name())
			}
		}
		if len(found) == 1 {
			return found[0], nil
		}
		if len(found) > 1 {
			return "", fmt.Errorf("container reference %q is ambiguous", ref)
		}
	}
	return "", fmt.Errorf("%w: %s", ErrNotFound, ref)
}

// Inspect reports one container, by ID, ID prefix or name.
func (r *Runtime) Inspect(ctx context.Context, ref string) (Info, error) {
	id, err := r.Resolve(ref)
	if err != nil {
		return Info{}, err
	}
	dir := r.dir(id)
	var s Spec
	if err := statefile.ReadJSON(filepath.Join(dir, "spec.json"), &s); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return Info{}, fmt.Errorf("%w: %s", ErrNotFound, ref)
		}
		return Info{}, err
	}
	// A keeper watches several containers: it is this one's monitor
	// while it holds the container's monitor lock. The lock is looked at
	// before the record is read, since a monitor writes its last record
	// and only then lets go: a monitor seen gone has left its last word.
	locked := monitorLocked(dir)
	var rec record
	if err := statefile.ReadJSON(filepath.Join(dir, "status.json"), &rec); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return Info{}, err
	}
	info := Info{
		ID: id, Name: s.Name, Labels: s.Labels, Image: s.Image, Spec: s,
		Status: rec.Status, ExitCode: rec.ExitCode, Error: rec.Error, Pid: rec.Pid,
		StartedAt: rec.StartedAt, FinishedAt: rec.FinishedAt, RestartCount: rec.RestartCount,
		Health: rec.Health, HealthLog: rec.HealthLog,
		Dir: dir, UpperDir: filepath.Join(dir, "upper"), Rootfs: r.rootfs(id),
	}
	if fi, err := os.Stat(filepath.Join(dir, "spec.json")); err == nil {
		info.Created = fi.ModTime()
	}
	info.MonitorAlive = locked && rec.MonitorPid > 0 && procAlive(rec.MonitorPid, rec.MonitorStart)
	switch rec.Status {
	case StatusRunning, StatusPaused:
		if !procAlive(rec.Pid, rec.PidStart) {
			if !info.MonitorAlive {
				// Neither the container nor its monitor is left:
				// the exit went unrecorded.
				info.Status = StatusExited
				info.ExitCode = -1
				info.Error = "the container's monitor was lost; its exit status is unknown"
				info.Pid = 0
			}
			break
		}
		if paused, _ := r.frozen(id); paused {
			info.Status = StatusPaused
		} else {
			info.Status = StatusRunning
		}
	case StatusRestarting:
		if !info.MonitorAlive {
			info.Status = StatusExited
		}
	}
	if info.Status != StatusRunning && info.Status != StatusPaused {
		info.Pid = 0
	}
	return info, nil
}

// List reports every container, oldest first.
func (r *Runtime) List(ctx context.Context) ([]Info, error) {
	ents, err := os.ReadDir(filepath.Join(r.root, "containers"))
	if err != nil {
		return nil, err
	}
	var out []Info
	for _, e := range ents {
		if !e.IsDir() || !idPattern.MatchString(e.Name()) {
			continue
		}
		info, err := r.Inspect(ctx, e.Name())
		if errors.Is(err, ErrNotFound) {
			continue // removed meanwhile
		}
		if err != nil {
			return nil, err
		}
		out = append(out, info)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Created.Before(out[j].Created) })
	return out, nil
}

// procStart is the start time of pid in clock ticks since boot (field 22 of
// /proc/PID/stat), which tells a process from a later one with its pid.
func procStart(pid int) uint64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return 0
	}
	var v uint64
	fmt.Sscanf(f[19], "%d", &v)
	return v
}

// procAlive says whether pid still runs (and is not a zombie) and is the
// process that started at start (0: any).
func procAlive(pid int, start uint64) bool {
	if pid <= 0 {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && len(s) > i+2 && s[i+2] == 'Z' {
		return false
	}
	return start == 0 || procStart(pid) == start
}

// Rename gives a container a new name, which must be free.
func (r *Runtime) Rename(ctx context.Context, ref, name string) error {
	unlock, err := statefile.Lock(filepath.Join(r.root, "containers", ".lock"))
	if err != nil {
		return err
	}
	defer unlock()
	id, err := r.Resolve(ref)
	if err != nil {
		return err
	}
	if other, err := r.lookupName(name); err == nil && other != id {
		return fmt.Errorf("%w: the name %q is in use by container %s", ErrExists, name, shortID(other))
	}
	var s Spec
	path := filepath.Join(r.dir(id), "spec.json")
	if err := statefile.ReadJSON(path, &s); err != nil {
		return err
	}
	old := s.Name
	s.Name = name
	if err := statefile.WriteJSON(path, &s, statefile.Options{}); err != nil {
		return err
	}
	r.event("rename", id, &s, "oldName", old)
	return nil
}
