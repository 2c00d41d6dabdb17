package runtime

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/opencontainers/runc/libcontainer"
	"golang.org/x/sys/unix"
)

// adoptInit takes over the running init of a container whose monitor was
// lost. The container's output pipes are found again through its
// processes' descriptors (the kernel opens a pipe anew from
// /proc/PID/fd/N), and its exit status comes from the kernel's process
// events, since its init is no longer this process's child. What cannot
// be taken over is returned in lost; the container runs on either way.
func (r *Runtime) adoptInit(id string, s *Spec, rec *record, logw *logWriter) (inst *instance, d *drain, lost []string, err error) {
	if (rec.Status != StatusRunning && rec.Status != StatusPaused) || !procAlive(rec.Pid, rec.PidStart) {
		return nil, nil, nil, fmt.Errorf("%w: %s", ErrNotRunning, s.Name)
	}
	pid := rec.Pid
	// Subscribed before the process is pinned, so that no exit falls
	// between the two.
	w, werr := watchExit(pid)
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil || procStart(pid) != rec.PidStart {
		if w != nil {
			w.close()
		}
		if err == nil {
			unix.Close(pidfd)
		}
		return nil, nil, nil, fmt.Errorf("%w: %s", ErrNotRunning, s.Name)
	}
	if werr != nil {
		lost = append(lost, fmt.Sprintf("its exit code (%v)", werr))
	}
	inst = &instance{waitFn: func() int {
		defer unix.Close(pidfd)
		if w == nil {
			waitPidfd(pidfd)
			return -1
		}
		defer w.close()
		code, err := w.wait(pidfd)
		if err != nil {
			fmt.Fprintf(os.Stderr, "container %s: exit code: %v\n", s.Name, err)
			return -1
		}
		return code
	}}
	d = &drain{done: make(chan struct{}, 2)}
	switch {
	case s.Tty:
		lost = append(lost, "its output (its terminal closed with the lost monitor)")
	case rec.OutputPipes == [2]uint64{}:
		lost = append(lost, "its output (its pipes were not recorded)")
	default:
		files := r.reopenPipes(id, pid, rec.OutputPipes)
		for i, name := range []string{"stdout", "stderr"} {
			f := files[i]
			if f == nil {
				lost = append(lost, fmt.Sprintf("its %s (no process holds it any more)", name))
				continue
			}
			d.n++
			go func() { logw.copyStream(name, f, nil); f.Close(); d.done <- struct{}{} }()
		}
	}
	inst.pipes = rec.OutputPipes
	rec.Error = ""
	return inst, d, lost, nil
}

// reopenPipes opens for reading the pipes with the given inode numbers
// that a process of the container (its init first) holds. A descriptor is
// opened only if it names such a pipe, and kept only if what was opened is
// that pipe: a container swapping descriptors meanwhile gets nothing else
// read.
func (r *Runtime) reopenPipes(id string, initPid int, inodes [2]uint64) [2]*os.File {
	var out [2]*os.File
	pipefs, ok := pipefsDev()
	if !ok {
		return out
	}
	pids := []int{initPid}
	if c, err := libcontainer.Load(r.lcRoot(), id); err == nil {
		if ps, err := c.Processes(); err == nil {
			pids = append(pids, ps...)
		}
	}
	for _, pid := range pids {
		dir := filepath.Join("/proc", strconv.Itoa(pid), "fd")
		ents, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range ents {
			link, err := os.Readlink(filepath.Join(dir, e.Name()))
			if err != nil {
				continue
			}
			for i, ino := range inodes {
				if out[i] != nil || ino == 0 || link != "pipe:["+strconv.FormatUint(ino, 10)+"]" {
					continue
				}
				fd, err := unix.Open(filepath.Join(dir, e.Name()), unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC|unix.O_NOCTTY, 0)
				if err != nil {
					continue
				}
				var st unix.Stat_t
				if unix.Fstat(fd, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFIFO || st.Ino != ino || st.Dev != pipefs {
					unix.Close(fd)
					continue
				}
				// Non-blocking, so reads go through Go's poller.
				out[i] = os.NewFile(uintptr(fd), []string{"stdout", "stderr"}[i])
			}
		}
		if out[0] != nil && out[1] != nil {
			break
		}
	}
	return out
}

// pipefsDev is the device number of the kernel's pipe file system.
func pipefsDev() (uint64, bool) {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		return 0, false
	}
	defer unix.Close(p[0])
	defer unix.Close(p[1])
	var st unix.Stat_t
	if err := unix.Fstat(p[0], &st); err != nil {
		return 0, false
	}
	return st.Dev, true
}

// waitPidfd blocks until the process behind pidfd has exited.
func waitPidfd(pidfd int) {
	fds := []unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}
	for {
		if _, err := unix.Poll(fds, -1); !errors.Is(err, unix.EINTR) {
			return
		}
	}
}

// inode is the inode number of an open file (0 if unknown).
func inode(f *os.File) uint64 {
	fi, err := f.Stat()
	if err != nil {
		return 0
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Ino
	}
	return 0
}
