package runtime

import (
	"errors"
	"fmt"
	"github.com/berthdev/berth/internal/timing"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"

	securejoin "github.com/cyphar/filepath-securejoin"
	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"github.com/moby/sys/mountinfo"
	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/utils"
	"golang.org/x/sys/unix"
)

// mountRootfs mounts the container's overlay root file system: the image's
// layers read-only under the container's own upper directory.
func (r *Runtime) mountRootfs(id string, s *Spec) (string, error) {
	dir := r.dir(id)
	target := filepath.Join(dir, "rootfs")
	if ok, _ := mountinfo.Mounted(target); ok {
		return target, nil
	}
	lowers := slices.Clone(s.Layers)
	slices.Reverse(lowers) // overlayfs lists the top layer first
	if len(lowers) == 0 {
		lowers = []string{filepath.Join(dir, "lower")}
	}
	for _, l := range lowers {
		if _, err := os.Stat(l); err != nil {
			return "", fmt.Errorf("image layer of container %s: %w", s.Name, err)
		}
	}
	if len(lowers) == 1 {
		// overlayfs needs two layers below an upper; a single image
		// layer is stacked over the container's empty lower dir.
		lowers = append(lowers, filepath.Join(dir, "lower"))
	}
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", strings.Join(lowers, ":"),
		filepath.Join(dir, "upper"), filepath.Join(dir, "work"))
	if len(opts) > unix.Getpagesize()-64 {
		return "", fmt.Errorf("container %s: %d image layers are more than one overlay mount can stack", s.Name, len(lowers))
	}
	if err := unix.Mount("overlay", target, "overlay", 0, opts); err != nil {
		return "", fmt.Errorf("mounting the root file system of %s: %w", s.Name, err)
	}
	return target, nil
}

// unmountRootfs detaches the overlay and anything left mounted below it.
func (r *Runtime) unmountRootfs(id string) error {
	target := r.rootfs(id)
	// The mount table names mount points by their resolved path: under a
	// root reached through a symlink, target itself matches nothing there.
	prefix := target
	if p, err := filepath.EvalSymlinks(target); err == nil {
		prefix = p
	}
	mounts, err := mountinfo.GetMounts(mountinfo.PrefixFilter(prefix))
	if err != nil {
		return err
	}
	// A start that died between pinning a subpath and releasing it.
	pins, err := mountinfo.GetMounts(mountinfo.PrefixFilter(filepath.Join(r.dir(id), "subpaths")))
	if err != nil {
		return err
	}
	mounts = append(mounts, pins...)
	slices.SortFunc(mounts, func(a, b *mountinfo.Info) int { return len(b.Mountpoint) - len(a.Mountpoint) })
	var errs []error
	for _, m := range mounts {
		if err := unix.Unmount(m.Mountpoint, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("unmounting %s: %w", m.Mountpoint, err))
		}
	}
	// And the overlay by the path it was mounted at, whatever the table
	// says, until nothing is mounted there (EINVAL).
	for range 8 {
		err := unix.Unmount(target, unix.MNT_DETACH)
		if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOENT) {
			break
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("unmounting %s: %w", target, err))
			break
		}
	}
	return errors.Join(errs...)
}

// makeCwd makes the working directory before the start, as Docker does,
// inside the root file system with the image's symlinks followed there as
// if it were /: runc alone refuses a path through a link to a directory
// the image lacks. SecureJoin resolves dangling links too; the path it
// gives is then made without following any link.
func makeCwd(rootfs, cwd string) error {
	if cwd == "" {
		return nil
	}
	full, err := securejoin.SecureJoin(rootfs, cwd)
	if err != nil {
		return err
	}
	rel, err := filepath.Rel(rootfs, full)
	if err != nil {
		return err
	}
	return pathrs.MkdirAll(rootfs, rel, 0o755)
}

// pinSubpaths returns s with each bind that has a Subpath replaced by a
// bind of what the Subpath resolves to inside its source: it is opened
// inside the source (symlinks followed as if the source were /) and
// bind-mounted, through the descriptor that opening gave, at a private
// path in the container's directory, which runc then mounts. A link that
// a container puts in the volume, before or during the start, leads
// nowhere else. release unmounts the pinned paths.
func (r *Runtime) pinSubpaths(id string, s *Spec) (*Spec, func(), error) {
	var pinned []string
	release := func() {
		for _, p := range pinned {
			unix.Unmount(p, unix.MNT_DETACH)
			os.Remove(p)
		}
	}
	out := *s
	out.Mounts = slices.Clone(s.Mounts)
	for i, m := range out.Mounts {
		if m.Subpath == "" {
			continue
		}
		p, err := pinSubpath(filepath.Join(r.dir(id), "subpaths"), i, m)
		if err != nil {
			release()
			return nil, nil, fmt.Errorf("mount %s: subpath %s: %w", m.Target, m.Subpath, err)
		}
		pinned = append(pinned, p)
		out.Mounts[i].Source, out.Mounts[i].Subpath = p, ""
	}
	return &out, release, nil
}

func pinSubpath(dir string, i int, m Mount) (string, error) {
	f, err := pathrs.OpenInRoot(m.Source, m.Subpath)
	if err != nil {
		return "", err
	}
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	p := filepath.Join(dir, fmt.Sprint(i))
	os.Remove(p)
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		err = os.Mkdir(p, 0o700)
	} else {
		err = os.WriteFile(p, nil, 0o600)
	}
	if err != nil {
		return "", err
	}
	if err := unix.Mount(fmt.Sprintf("/proc/self/fd/%d", f.Fd()), p, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		os.Remove(p)
		return "", err
	}
	return p, nil
}

// instance is one run of a container's init process.
type instance struct {
	c       *libcontainer.Container
	p       *libcontainer.Process
	console *os.File // pty master when the container has a terminal
	// pipes are the inode numbers of the pipes of its stdout and stderr,
	// by which a later monitor finds them again (0: none).
	pipes [2]uint64
	// waitFn, when set, waits for an init that is not this process's
	// child (adopted from a lost monitor).
	waitFn func() int
}

// startFault, set only by tests, makes start fail at the named step, so
// that every way out of start can be shown to undo what it did.
var startFault func(step string) error

func injectFault(step string) error {
	if startFault == nil {
		return nil
	}
	return startFault(step)
}

// stdio is where an instance's standard streams go. With a terminal, only
// In and Out are used.
type stdio struct {
	In       io.Reader
	Out, Err io.Writer
	// InFile/OutFile/ErrFile, when set, are handed to the process as they are.
	InFile, OutFile, ErrFile *os.File
}

// destroyStale removes libcontainer state of an earlier run that nobody
// cleaned up (a crash, a kill -9), so creation never hits "already exists".
func (r *Runtime) destroyStale(id string) {
	if c, err := libcontainer.Load(r.lcRoot(), id); err == nil {
		if st, err := c.Status(); err == nil && st != libcontainer.Stopped {
			c.Signal(unix.SIGKILL)
		}
		c.Destroy()
	}
}

// start creates the libcontainer container and starts its init. Whatever
// fails, nothing of it is left: no libcontainer state, no cgroup, no
// mount.
func (r *Runtime) start(id string, s *Spec, sio stdio) (*instance, error) {
	end := timing.Span("start: stale state, rootfs")
	r.destroyStale(id)
	rootfs, err := r.mountRootfs(id, s)
	end()
	if err != nil {
		return nil, err
	}
	var c *libcontainer.Container
	fail := func(err error) (*instance, error) {
		if c != nil {
			c.Destroy()
		}
		// libcontainer gives up on a cgroup its last process has not
		// quite left yet.
		if cerr := removeCgroups(id); cerr != nil {
			err = errors.Join(err, cerr)
		}
		if uerr := r.unmountRootfs(id); uerr != nil {
			err = errors.Join(err, uerr)
		}
		return nil, err
	}
	if err := injectFault("rootfs mounted"); err != nil {
		return fail(err)
	}
	if err := makeCwd(rootfs, s.Cwd); err != nil {
		return fail(fmt.Errorf("container %s: working directory %s: %w", s.Name, s.Cwd, err))
	}
	pinned, release, err := r.pinSubpaths(id, s)
	if err != nil {
		return fail(fmt.Errorf("container %s: %w", s.Name, err))
	}
	// Once runc has made its mounts, the pinned ones are not needed.
	defer release()
	cfg, err := libcontainerConfig(pinned, rootfs, r.dir(id))
	if err != nil {
		return fail(err)
	}
	p, err := processFor(s, rootfs, s.Args, s.Env, s.Cwd, s.User, true)
	if err != nil {
		return fail(err)
	}
	end = timing.Span("start: libcontainer create")
	c, err = libcontainer.Create(r.lcRoot(), id, cfg)
	end()
	if err != nil {
		return fail(fmt.Errorf("creating container %s: %w", s.Name, err))
	}
	if err := injectFault("container created"); err != nil {
		return fail(err)
	}
	inst := &instance{c: c, p: p}
	var parentSock *os.File
	if s.Tty {
		parent, child, err := utils.NewSockPair("console")
		if err != nil {
			return fail(err)
		}
		p.ConsoleSocket, parentSock = child, parent
		defer parent.Close()
		defer child.Close()
	} else {
		p.Stdin, p.Stdout, p.Stderr = sio.In, sio.Out, sio.Err
		if sio.InFile != nil {
			p.Stdin = sio.InFile
		}
		if sio.OutFile != nil {
			p.Stdout = sio.OutFile
		}
		if sio.ErrFile != nil {
			p.Stderr = sio.ErrFile
		}
	}
	end = timing.Span("start: libcontainer run")
	err = c.Run(p)
	end()
	if err != nil {
		return fail(fmt.Errorf("starting container %s: %w", s.Name, startError(err)))
	}
	if err := injectFault("process started"); err != nil {
		p.Signal(unix.SIGKILL)
		p.Wait()
		return fail(err)
	}
	if s.Tty {
		master, err := utils.RecvFile(parentSock)
		if err != nil {
			p.Signal(unix.SIGKILL)
			p.Wait()
			return fail(fmt.Errorf("receiving the terminal of %s: %w", s.Name, err))
		}
		inst.console = master
	}
	return inst, nil
}

// execFailed matches libcontainer's words for a command that could not be
// executed (they cross from the container's init as text): exec.LookPath's
// `exec: "cmd": ...` and execve's `exec /path: no such file or directory`.
var execFailed = regexp.MustCompile(`(^|: )exec(: "[^"]*": (executable file not found|stat .*: no such file or directory)| [^:]*: no such file or directory)`)

// startError adds a hint a user can act on to the error of a command
// that is not in the container, and to that error only: a missing
// namespace or mount source says "no such file or directory" too.
func startError(err error) error {
	if execFailed.MatchString(err.Error()) {
		return fmt.Errorf("%w (is the command in the image, and on its PATH?)", err)
	}
	return err
}

// wait waits for the init process and returns its exit code: its status,
// or 128+signal when a signal ended it.
func (i *instance) wait() int {
	if i.waitFn != nil {
		return i.waitFn()
	}
	if pid, err := i.p.Pid(); err == nil {
		awaitExit(pid)
	}
	_, err := i.p.Wait()
	return exitCodeOf(err, i.p)
}

// awaitExit returns once the process pid (a child, not yet reaped) has
// exited. It waits on a pidfd in Go's poller: waiting in wait4, as
// os.Process.Wait does, holds an OS thread per container for as long as
// it runs, and a keeper watches many.
func awaitExit(pid int) {
	fd, err := unix.PidfdOpen(pid, unix.PIDFD_NONBLOCK)
	if err != nil {
		return // the caller's Wait waits instead
	}
	f := os.NewFile(uintptr(fd), "pidfd")
	defer f.Close()
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	rc.Read(func(fd uintptr) bool {
		n, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, 0)
		return n > 0 || (err != nil && !errors.Is(err, unix.EINTR))
	})
}

func exitCodeOf(err error, p *libcontainer.Process) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok {
			if ws.Signaled() {
				return 128 + int(ws.Signal())
			}
			return ws.ExitStatus()
		}
		return ee.ExitCode()
	}
	if err != nil {
		return 255
	}
	return 0
}

// destroy removes the libcontainer container (killing anything left in its
// cgroup) and unmounts the root file system.
func (r *Runtime) destroy(id string, i *instance) error {
	var errs []error
	if i != nil && i.c != nil {
		if i.console != nil {
			i.console.Close()
		}
		end := timing.Span("destroy: libcontainer")
		if err := i.c.Destroy(); err != nil {
			errs = append(errs, err)
		}
		end()
	} else {
		r.destroyStale(id)
	}
	end := timing.Span("destroy: unmount")
	if err := r.unmountRootfs(id); err != nil {
		errs = append(errs, err)
	}
	end()
	return errors.Join(errs...)
}

// frozen says whether a running container is paused. The freezer's state
// is read from the container's cgroup, as libcontainer keeps it: loading
// the container through libcontainer first costs some 7 ms in a process
// (finding the cgroup mounts) and every command inspects every container.
func (r *Runtime) frozen(id string) (bool, error) {
	if b, err := os.ReadFile("/sys/fs/cgroup/freezer/berth/" + id + "/freezer.state"); err == nil {
		return strings.TrimSpace(string(b)) == "FROZEN", nil
	}
	if b, err := os.ReadFile("/sys/fs/cgroup/berth/" + id + "/cgroup.freeze"); err == nil {
		return strings.TrimSpace(string(b)) == "1", nil
	}
	c, err := libcontainer.Load(r.lcRoot(), id)
	if err != nil {
		return false, err
	}
	st, err := c.Status()
	return st == libcontainer.Paused, err
}
