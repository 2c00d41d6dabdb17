package runtime

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berthdev/berth/internal/failpoint"
	"github.com/berthdev/berth/internal/statefile"
)

// A keeper is the process that watches detached containers: the monitor
// of each container it was handed runs in it, one goroutine each. The
// containers whose Spec.Keeper names the same group share one keeper (a
// project's, by default), so an idle stack costs one Go process and not one
// per container; a container without a group has a keeper of its own.
//
// A keeper lost (killed, out of memory) loses what a container's own
// monitor lost: its containers run on, Inspect says their monitor is lost,
// and Adopt gives each a new keeper that takes back their output, name
// server, health checks and exit code.
//
// The starter reaches the keeper through a Unix socket in the state
// directory, <state>/keepers/<group digest>.sock, and starts a keeper when
// none answers. A keeper leaves once it watches nothing. The group's lock
// file keeps the two from crossing: a starter holds it shared from
// connecting until its container is handed over, starting a keeper holds
// it exclusively, and a keeper leaves only if it can take it exclusively at
// once, when no starter is between connecting and a reply.

// keeperDir holds the keepers' sockets, locks and logs.
func (r *Runtime) keeperDir() string { return filepath.Join(r.state, "keepers") }

// keeperName is the file name of a group's socket, lock and log.
func keeperName(group string) string {
	h := sha256.Sum256([]byte(group))
	return hex.EncodeToString(h[:8])
}

// keeperGroup is the group of a container's keeper.
func keeperGroup(id string, s *Spec) string {
	if s.Keeper != "" {
		return "group:" + s.Keeper
	}
	return "container:" + id
}

// keeperRequest hands a container to its group's keeper, starting the
// keeper when none runs, and returns the keeper's report: lines "lost:
// ..." (what an adopting monitor could not take over), then "ok" or
// "error: ...".
func (r *Runtime) keeperRequest(info Info, adopt bool) (report []byte, keeperPid int, err error) {
	group := keeperGroup(info.ID, &info.Spec)
	name := keeperName(group)
	if err := os.MkdirAll(r.keeperDir(), 0o700); err != nil {
		return nil, 0, err
	}
	lockf, err := os.OpenFile(filepath.Join(r.keeperDir(), name+".lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, 0, err
	}
	defer lockf.Close()
	verb := "start"
	if adopt {
		verb = "adopt"
	}
	for attempt := 0; ; attempt++ {
		if err := statefile.LockShared(lockf); err != nil {
			return nil, 0, fmt.Errorf("the keeper of %s: %w", info.Name, err)
		}
		conn, err := r.dialKeeper(name)
		if err == nil {
			report, pid, err := askKeeper(conn, verb, info.ID)
			conn.Close()
			statefile.Unlock(lockf)
			if err == nil || attempt >= 3 {
				return report, pid, err
			}
			// The keeper went away before it answered (killed, or
			// leaving): nothing of the request was done.
			continue
		}
		statefile.Unlock(lockf)
		if attempt >= 3 {
			return nil, 0, fmt.Errorf("reaching the keeper of %s: %w", info.Name, err)
		}
		if !noKeeper(err) {
			// A keeper runs but did not take the connection (its queue
			// of connections is full while a stack starts): it will.
			time.Sleep(20 * time.Millisecond)
			attempt--
			continue
		}
		if err := r.spawnKeeper(lockf, name, group, info.Name); err != nil {
			return nil, 0, err
		}
		failpoint.Kill("keeper-spawned")
	}
}

// noKeeper says whether a failed dial means that no keeper listens (no
// socket, or nobody behind it), rather than that one is busy.
func noKeeper(err error) bool {
	return errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ECONNREFUSED)
}

// askKeeper sends one request and reads the report to its end, which the
// keeper marks by closing the connection.
func askKeeper(conn *net.UnixConn, verb, id string) ([]byte, int, error) {
	pid := peerPid(conn)
	if _, err := fmt.Fprintf(conn, "%s %s\n", verb, id); err != nil {
		return nil, 0, err
	}
	failpoint.Kill("keeper-request-sent")
	report, err := io.ReadAll(conn)
	if err != nil {
		return nil, 0, err
	}
	if len(report) == 0 {
		return nil, 0, errors.New("the keeper closed the connection without a reply")
	}
	return report, pid, nil
}

// spawnKeeper starts a group's keeper unless one answers already, holding
// the group's lock exclusively, and returns once it listens.
func (r *Runtime) spawnKeeper(lockf *os.File, name, group, container string) error {
	if err := statefile.LockExclusive(lockf); err != nil {
		return fmt.Errorf("the keeper of %s: %w", container, err)
	}
	defer statefile.Unlock(lockf)
	if conn, err := r.dialKeeper(name); err == nil || !noKeeper(err) {
		if conn != nil {
			conn.Close()
		}
		return nil
	}
	rd, wr, err := os.Pipe()
	if err != nil {
		return err
	}
	defer rd.Close()
	logPath := filepath.Join(r.keeperDir(), name+".log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		wr.Close()
		return err
	}
	defer logf.Close()
	cmd := exec.Command(r.exe, MonitorCommand, "--root", r.root, "--state", r.state, "--keeper", group)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.ExtraFiles = []*os.File{wr}
	// The keeper runs in a session of its own, detached from the
	// caller's terminal and signals; it stays this process's child only
	// while this process lives (a goroutine reaps it should it end
	// first), then it is init's. It mostly waits: one P spares it the
	// threads, GC workers and scheduling of more.
	cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	cmd.Dir = "/"
	if err := cmd.Start(); err != nil {
		wr.Close()
		return fmt.Errorf("starting the keeper of %s: %w", container, err)
	}
	wr.Close()
	go cmd.Wait()
	msg, _ := io.ReadAll(rd)
	if l := strings.TrimSpace(string(msg)); l != "ok" {
		if strings.HasSuffix(l, errAnotherKeeper) {
			return nil // one answers after all: the caller dials again
		}
		if e, ok := strings.CutPrefix(l, "error: "); ok {
			return fmt.Errorf("starting the keeper of %s: %s", container, e)
		}
		return fmt.Errorf("the keeper of %s exited before listening; see %s", container, logPath)
	}
	return nil
}

// keeperSocket is the socket's path, through /proc/self/fd when the state
// directory's path is too long for a socket address.
func (r *Runtime) keeperSocket(name string) (path string, release func(), err error) {
	p := filepath.Join(r.keeperDir(), name+".sock")
	if len(p) < 100 {
		return p, func() {}, nil
	}
	dir, err := os.OpenFile(r.keeperDir(), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", nil, err
	}
	return fmt.Sprintf("/proc/self/fd/%d/%s.sock", dir.Fd(), name), func() { dir.Close() }, nil
}

func (r *Runtime) dialKeeper(name string) (*net.UnixConn, error) {
	p, release, err := r.keeperSocket(name)
	if err != nil {
		return nil, err
	}
	defer release()
	return net.DialUnix("unix", nil, &net.UnixAddr{Name: p, Net: "unix"})
}

// ReleaseKeeper makes the keeper of a group leave if it watches nothing
// (say, its starter was killed before handing it a container) and waits
// for it to be gone, so that taking a project down leaves no process. A
// keeper that still watches a container stays.
func (r *Runtime) ReleaseKeeper(ctx context.Context, group string) error {
	conn, err := r.dialKeeper(keeperName("group:" + group))
	if err != nil {
		return nil // none runs
	}
	defer conn.Close()
	pid := peerPid(conn)
	if _, err := fmt.Fprintln(conn, "leave"); err != nil {
		return nil
	}
	reply, _ := io.ReadAll(conn)
	if strings.TrimSpace(string(reply)) != "leaving" || pid <= 0 {
		return nil
	}
	if !waitExit(ctx, pid, 5*time.Second) {
		return fmt.Errorf("the keeper of %s (pid %d) did not leave", group, pid)
	}
	return nil
}

// peerPid is the process at the other end of a Unix socket (0: unknown).
func peerPid(conn *net.UnixConn) int {
	pid := 0
	if raw, err := conn.SyscallConn(); err == nil {
		raw.Control(func(fd uintptr) {
			if cred, err := unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED); err == nil {
				pid = int(cred.Pid)
			}
		})
	}
	return pid
}

// errAnotherKeeper is a keeper's report when it finds that another keeper
// of its group listens.
const errAnotherKeeper = "another keeper of the group listens"

// RunKeeper is the body of the hidden keeper command: it serves the
// requests of a group's starters until it watches no container. ready is
// the pipe on which the starter waits for it to listen.
func RunKeeper(root, state, group string, ready *os.File) error {
	r, err := Open(root, state, WithExecutable("/proc/self/exe"))
	if err != nil {
		fmt.Fprintf(ready, "error: %v\n", err)
		return err
	}
	// A keeper has no terminal and must not die with one. The signals
	// are caught and dropped, not ignored: an ignored signal stays ignored
	// across exec, so every container would start with SIGINT and SIGHUP
	// ignored and could never act on `stop_signal: SIGINT`. A caught one
	// is back at its default in the container.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGHUP, syscall.SIGINT, syscall.SIGPIPE)
	name := keeperName(group)
	p, release, err := r.keeperSocket(name)
	if err != nil {
		fmt.Fprintf(ready, "error: %v\n", err)
		return err
	}
	// The starter holds the group's lock and found no keeper behind the
	// socket: what is left of it is a killed keeper's.
	sock := filepath.Join(r.keeperDir(), name+".sock")
	if conn, err := r.dialKeeper(name); err == nil || !noKeeper(err) {
		if conn != nil {
			conn.Close()
		}
		release()
		err = errors.New(errAnotherKeeper)
		fmt.Fprintf(ready, "error: %v\n", err)
		return err
	}
	os.Remove(sock)
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: p, Net: "unix"})
	release()
	if err != nil {
		fmt.Fprintf(ready, "error: %v\n", err)
		return err
	}
	l.SetUnlinkOnClose(false)
	fi, err := os.Stat(sock)
	if err != nil {
		l.Close()
		fmt.Fprintf(ready, "error: %v\n", err)
		return err
	}
	lockf, err := os.OpenFile(filepath.Join(r.keeperDir(), name+".lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		fmt.Fprintf(ready, "error: %v\n", err)
		return err
	}
	k := &keeper{r: r, l: l, name: name, lockf: lockf, sock: fi}
	fmt.Fprintln(ready, "ok")
	ready.Close()
	return k.serve()
}

type keeper struct {
	r     *Runtime
	l     *net.UnixListener
	name  string
	lockf *os.File    // the group's lock
	sock  os.FileInfo // its socket, which it removes only if still its own

	mu      sync.Mutex
	active  int
	leaving bool
	settle  *time.Timer
}

func (k *keeper) serve() error {
	// A starter killed between starting the keeper and handing it its
	// container would leave it waiting for nothing.
	go func() {
		for range time.Tick(time.Second) {
			k.mu.Lock()
			k.leaveIfIdle()
			k.mu.Unlock()
		}
	}()
	for {
		conn, err := k.l.AcceptUnix()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil // leaving
			}
			return err
		}
		// Counted before the request is read: the keeper stays for it.
		k.mu.Lock()
		k.active++
		k.mu.Unlock()
		go k.handle(conn)
	}
}

// handle serves one starter's request: start or adopt a container, whose
// monitor then runs until the container is done for good, or leave.
func (k *keeper) handle(conn *net.UnixConn) {
	line, err := bufio.NewReader(conn).ReadString('\n')
	verb, id, _ := strings.Cut(strings.TrimSpace(line), " ")
	if verb == "leave" {
		k.mu.Lock()
		k.active--
		leaving := k.leaveIfIdle()
		k.mu.Unlock()
		if leaving {
			fmt.Fprintln(conn, "leaving")
		} else {
			fmt.Fprintln(conn, "busy")
		}
		conn.Close()
		return
	}
	if err != nil || (verb != "start" && verb != "adopt") || !idPattern.MatchString(id) {
		fmt.Fprintf(conn, "error: bad request %q\n", line)
		conn.Close()
		k.finished()
		return
	}
	if err := k.r.monitor(id, verb == "adopt", conn, k.started, k.finished); err != nil {
		fmt.Fprintf(os.Stderr, "container %s: %v\n", shortID(id), err)
	}
}

// started is called once a container runs: what starting took is garbage
// now, and an idle keeper should hold as little memory as it can. Handing
// it back costs a TLB shootdown per range, so it waits until a stack being
// started alongside has settled (9% of the CPU time of starting 20
// containers otherwise).
func (k *keeper) started() {
	k.mu.Lock()
	defer k.mu.Unlock()
	debug.SetGCPercent(25)
	if k.settle == nil {
		k.settle = time.AfterFunc(monitorSettle, func() {
			debug.FreeOSMemory()
			trimCode()
		})
	} else {
		k.settle.Reset(monitorSettle)
	}
}

// finished is called by a monitor that is done, before it lets go of its
// container. When the keeper leaves, it never returns: the monitor lock of
// the last container is released with the process, so that whoever waited
// for it (Remove) finds the keeper gone.
func (k *keeper) finished() {
	k.mu.Lock()
	k.active--
	leaving := k.leaveIfIdle()
	k.mu.Unlock()
	if leaving {
		select {}
	}
}

// leaveIfIdle ends the keeper when it watches no container and no starter
// is between connecting and its reply: the socket goes and serve returns.
// The group's lock, taken exclusively, is held until the process has
// ended. The caller holds k.mu.
func (k *keeper) leaveIfIdle() bool {
	if k.active > 0 || k.leaving {
		return k.leaving
	}
	if locked, err := statefile.TryLock(k.lockf); !locked || err != nil {
		return false // a starter is handing over a container
	}
	k.leaving = true
	sock := filepath.Join(k.r.keeperDir(), k.name+".sock")
	if fi, err := os.Stat(sock); err == nil && os.SameFile(fi, k.sock) {
		os.Remove(sock)
	}
	k.l.Close()
	return true
}

// trimCode lets go of the pages of the berth binary's code and read-only
// data that the keeper touched while starting (the initialisation of every
// package it links, libcontainer's start): an idle keeper runs a small part
// of the binary, and the pages it needs again come back from the page
// cache, where the binary stays for every berth process, at a minor fault
// each (a large folio of the page cache comes back whole, so some
// megabytes stay mapped). Writable mappings are left alone: dropping their
// pages would throw away what the keeper wrote there.
func trimCode() {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return
	}
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return
	}
	for _, l := range strings.Split(string(maps), "\n") {
		f := strings.Fields(l)
		if len(f) < 6 || f[5] != exe || strings.Contains(f[1], "w") {
			continue
		}
		from, to, ok := strings.Cut(f[0], "-")
		if !ok {
			continue
		}
		start, err1 := strconv.ParseUint(from, 16, 64)
		end, err2 := strconv.ParseUint(to, 16, 64)
		if err1 != nil || err2 != nil || end <= start {
			continue
		}
		unix.Syscall(unix.SYS_MADVISE, uintptr(start), uintptr(end-start), unix.MADV_DONTNEED)
	}
}
