package runtime

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// A container whose monitor was killed is no longer anyone's child that
// berth runs: its init went to the host's init, which reaps it and drops
// its exit status. The kernel's process events connector (CONFIG_PROC_EVENTS,
// root only) still tells every exit with its status, so a new monitor
// learns the code from there.

// The connector's constants and offsets, from <linux/connector.h> and
// <linux/cn_proc.h>.
const (
	cnIdxProc         = 1
	cnValProc         = 1
	procCnMcastListen = 1
	procEventExit     = 0x80000000

	nlmsgHdrLen = 16
	cnMsgLen    = 20
	// Offsets in a received datagram: the netlink header, the connector
	// header, then struct proc_event (what, cpu, timestamp, then the
	// exit event's pid, tgid, exit_code).
	offWhat     = nlmsgHdrLen + cnMsgLen
	offExitPid  = offWhat + 16
	offExitTgid = offExitPid + 4
	offExitCode = offExitTgid + 4
)

// exitWatch listens for the exit of one process that is not a child.
type exitWatch struct {
	sock int
	pid  int
}

// watchExit subscribes to the exit events of pid. Subscribe before
// checking that pid still runs, or its exit may go unseen.
func watchExit(pid int) (*exitWatch, error) {
	sock, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_CONNECTOR)
	if err != nil {
		return nil, fmt.Errorf("process events: %w", err)
	}
	w := &exitWatch{sock: sock, pid: pid}
	// Only exit events of pid's thread group reach the socket: every other
	// process of the host starting and ending would fill its buffer.
	// Classic BPF loads words big-endian; the events are in host order.
	be := func(v uint32) uint32 {
		var b [4]byte
		binary.NativeEndian.PutUint32(b[:], v)
		return binary.BigEndian.Uint32(b[:])
	}
	prog := []unix.SockFilter{
		{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: offWhat},
		{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, Jt: 0, Jf: 3, K: be(procEventExit)},
		{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: offExitTgid},
		{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, Jt: 0, Jf: 1, K: be(uint32(pid))},
		{Code: unix.BPF_RET | unix.BPF_K, K: 0xffff},
		{Code: unix.BPF_RET | unix.BPF_K, K: 0},
	}
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	if err := unix.SetsockoptSockFprog(sock, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &fprog); err != nil {
		w.close()
		return nil, fmt.Errorf("process events filter: %w", err)
	}
	if err := unix.Bind(sock, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: cnIdxProc}); err != nil {
		w.close()
		return nil, fmt.Errorf("process events: %w", err)
	}
	msg := make([]byte, nlmsgHdrLen+cnMsgLen+4)
	ne := binary.NativeEndian
	ne.PutUint32(msg[0:], uint32(len(msg)))
	ne.PutUint16(msg[4:], unix.NLMSG_DONE)
	ne.PutUint32(msg[12:], uint32(os.Getpid()))
	ne.PutUint32(msg[16:], cnIdxProc)
	ne.PutUint32(msg[20:], cnValProc)
	ne.PutUint16(msg[32:], 4) // cn_msg.len
	ne.PutUint32(msg[36:], procCnMcastListen)
	if err := unix.Sendto(sock, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		w.close()
		return nil, fmt.Errorf("subscribing to process events: %w", err)
	}
	return w, nil
}

func (w *exitWatch) close() { unix.Close(w.sock) }

// wait blocks until the process behind pidfd (w's pid) has exited and
// returns its exit code: its status, or 128+signal. An exit whose event
// was lost (the socket overran) is an error.
func (w *exitWatch) wait(pidfd int) (int, error) {
	code, seen := 0, false
	// drain reads every queued event, keeping the last of the process's
	// main thread: the one that carries the status of the whole process.
	drain := func() error {
		buf := make([]byte, 4096)
		for {
			n, _, err := unix.Recvfrom(w.sock, buf, unix.MSG_DONTWAIT)
			if errors.Is(err, unix.EINTR) || errors.Is(err, unix.ENOBUFS) {
				continue // an overrun: the exit, if among the losses, is reported missing
			}
			if err != nil {
				return err
			}
			if n < offExitCode+4 {
				continue
			}
			ne := binary.NativeEndian
			if ne.Uint32(buf[offWhat:]) != procEventExit || int(ne.Uint32(buf[offExitPid:])) != w.pid ||
				int(ne.Uint32(buf[offExitTgid:])) != w.pid {
				continue // another thread of the process
			}
			code, seen = waitStatusCode(ne.Uint32(buf[offExitCode:])), true
		}
	}
	fds := []unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}, {Fd: int32(w.sock), Events: unix.POLLIN}}
	for {
		_, err := unix.Poll(fds, -1)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return -1, err
		}
		if fds[0].Revents != 0 {
			// The process is gone; its event was queued before it was.
			if err := drain(); err != nil && !errors.Is(err, unix.EAGAIN) {
				return -1, fmt.Errorf("process events: %w", err)
			}
			if !seen {
				return -1, errors.New("its exit event was lost")
			}
			return code, nil
		}
		if fds[1].Revents != 0 {
			if err := drain(); err != nil && !errors.Is(err, unix.EAGAIN) {
				return -1, fmt.Errorf("process events: %w", err)
			}
		}
	}
}

// waitStatusCode turns a wait status (task->exit_code) into an exit code
// as a shell reports it.
func waitStatusCode(ws uint32) int {
	if sig := ws & 0x7f; sig != 0 {
		return 128 + int(sig)
	}
	return int(ws>>8) & 0xff
}
