package runtime

import (
	"context"
	"fmt"
	"github.com/berthdev/berth/internal/timing"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/containerd/console"
	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/configs"
	"github.com/opencontainers/runc/libcontainer/utils"
	"golang.org/x/sys/unix"

	"github.com/berthdev/berth/internal/statefile"
)

// WinSize is a terminal's size in characters.
type WinSize struct{ Width, Height uint16 }

// Stdio connects a foreground process to the caller. With a terminal, Err
// is unused: the terminal carries both streams.
type Stdio struct {
	In  io.Reader
	Out io.Writer
	Err io.Writer
	// Size is the terminal's initial size; Resize delivers changes.
	Size   *WinSize
	Resize <-chan WinSize
	// Signals are forwarded to the process as they arrive.
	Signals <-chan os.Signal
}

// ExecSpec is a process to start in a running container.
type ExecSpec struct {
	Args       []string
	Env        []string
	Cwd        string
	User       string
	Tty        bool
	Privileged bool
	// Detach starts the process and returns at once with code 0.
	Detach bool
}

// Run runs a created or stopped container in the foreground, with its
// standard streams connected to io (and copied to its log), and returns its
// exit code. The calling process is the container's monitor; when ctx ends
// the container is stopped as Stop would.
func (r *Runtime) Run(ctx context.Context, ref string, sio Stdio) (int, error) {
	info, err := r.Inspect(ctx, ref)
	if err != nil {
		return -1, err
	}
	if info.Status == StatusRunning || info.Status == StatusPaused || info.Status == StatusRestarting {
		return -1, fmt.Errorf("%w: %s", ErrRunning, info.Name)
	}
	id, s := info.ID, info.Spec
	if err := r.cleanupExited(id); err != nil {
		return -1, err
	}
	os.Remove(filepath.Join(r.dir(id), "stop-requested"))
	logw, err := newLogWriter(filepath.Join(r.dir(id), "container.log"), s.LogMaxSize, s.LogMaxFiles)
	if err != nil {
		return -1, err
	}
	defer logw.Close()

	end := timing.Span("runtime: name server")
	if s.Resolver != nil && s.Network == NetworkPath {
		rctx, stopResolver := context.WithCancel(context.Background())
		defer stopResolver()
		if err := startResolver(rctx, s.NetNS, s.Resolver); err != nil {
			return -1, fmt.Errorf("container %s: %w", s.Name, err)
		}
	}
	end()
	end = timing.Span("runtime: start")
	var wg sync.WaitGroup
	var inst *instance
	if s.Tty {
		inst, err = r.start(id, &s, stdio{})
		if err == nil {
			r.attachConsole(inst.console, sio, logw, &wg)
		}
	} else {
		inst, err = r.startPiped(id, &s, sio, logw, &wg)
	}
	end()
	end = timing.Span("runtime: started record")
	rec := record{MonitorPid: os.Getpid(), MonitorStart: procStart(os.Getpid())}
	if err != nil {
		rec.Status, rec.ExitCode, rec.Error, rec.FinishedAt = StatusExited, 127, err.Error(), time.Now()
		statefile.WriteJSON(filepath.Join(r.dir(id), "status.json"), &rec, statefile.Options{})
		r.dieEvent(id, &s, 127, time.Time{})
		return -1, err
	}
	pid, _ := inst.p.Pid()
	rec.Status, rec.Pid, rec.PidStart, rec.StartedAt = StatusRunning, pid, procStart(pid), time.Now()
	statefile.WriteJSON(filepath.Join(r.dir(id), "status.json"), &rec, statefile.Options{})
	r.event("start", id, &s)

	end()
	end = timing.Span("runtime: wait")
	done := make(chan struct{})
	go func() {
		for {
			select {
			case sig := <-sio.Signals:
				inst.p.Signal(sig)
			case <-ctx.Done():
				r.Stop(context.Background(), id, s.StopTimeout)
				return
			case <-done:
				return
			}
		}
	}()
	code := inst.wait()
	close(done)
	drained := make(chan struct{})
	go func() { wg.Wait(); close(drained) }()
	select {
	case <-drained:
	case <-time.After(2 * time.Second):
	}
	end()
	end = timing.Span("runtime: destroy")
	r.destroy(id, inst)
	end()
	defer timing.Span("runtime: exit record")()
	rec.Status, rec.ExitCode, rec.Pid, rec.FinishedAt = StatusExited, code, 0, time.Now()
	statefile.WriteJSON(filepath.Join(r.dir(id), "status.json"), &rec, statefile.Options{})
	r.dieEvent(id, &s, code, rec.StartedAt)
	return code, nil
}

// startPiped starts an instance with pipes for its streams, copying them to
// io and the log.
func (r *Runtime) startPiped(id string, s *Spec, sio Stdio, logw *logWriter, wg *sync.WaitGroup) (*instance, error) {
	var inR *os.File
	if sio.In != nil {
		pr, pw, err := os.Pipe()
		if err != nil {
			return nil, err
		}
		inR = pr
		go func() { copyInput(pw, sio.In); pw.Close() }()
	} else {
		devnull, err := os.Open(os.DevNull)
		if err != nil {
			return nil, err
		}
		inR = devnull
	}
	defer inR.Close()
	or, ow, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	er, ew, err := os.Pipe()
	if err != nil {
		or.Close()
		ow.Close()
		return nil, err
	}
	inst, err := r.start(id, s, stdio{InFile: inR, OutFile: ow, ErrFile: ew})
	ow.Close()
	ew.Close()
	if err != nil {
		or.Close()
		er.Close()
		return nil, err
	}
	wg.Add(2)
	go func() { defer wg.Done(); logw.copyStream("stdout", or, orDiscard(sio.Out)); or.Close() }()
	go func() { defer wg.Done(); logw.copyStream("stderr", er, orDiscard(sio.Err)); er.Close() }()
	return inst, nil
}

func copyInput(w io.Writer, r io.Reader) {
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

// attachConsole connects a pty master to io: input in, output out (and to
// the log), following the caller's terminal size.
func (r *Runtime) attachConsole(master *os.File, sio Stdio, logw *logWriter, wg *sync.WaitGroup) {
	resizeConsole(master, sio.Size)
	if sio.In != nil {
		go copyInput(master, sio.In)
	}
	go func() {
		for ws := range sio.Resize {
			resizeConsole(master, &ws)
		}
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		var tee io.Writer = orDiscard(sio.Out)
		if logw != nil {
			logw.copyStream("stdout", master, tee)
		} else {
			copyInput(tee, master)
		}
	}()
}

func resizeConsole(master *os.File, ws *WinSize) {
	if ws == nil || ws.Width == 0 {
		return
	}
	if c, err := console.ConsoleFromFile(master); err == nil {
		c.Resize(console.WinSize{Width: ws.Width, Height: ws.Height})
	}
}

// Exec runs a process in a running container and returns its exit code.
func (r *Runtime) Exec(ctx context.Context, ref string, e ExecSpec, sio Stdio) (int, error) {
	info, err := r.Inspect(ctx, ref)
	if err != nil {
		return -1, err
	}
	if info.Status != StatusRunning {
		return -1, fmt.Errorf("%w: %s is %s", ErrNotRunning, info.Name, info.Status)
	}
	s := info.Spec
	c, err := libcontainer.Load(r.lcRoot(), info.ID)
	if err != nil {
		return -1, fmt.Errorf("%w: %s: %v", ErrNotRunning, info.Name, err)
	}
	env := append(append([]string{}, s.Env...), e.Env...)
	cwd, usr := e.Cwd, e.User
	if cwd == "" {
		cwd = s.Cwd
	}
	if usr == "" {
		usr = s.User
	}
	es := s
	es.Tty = e.Tty
	p, err := processFor(&es, info.Rootfs, e.Args, env, cwd, usr, false)
	if err != nil {
		return -1, err
	}
	if e.Privileged {
		caps := allCaps()
		if have := hostCaps(); have != nil {
			var keep []string
			for _, c := range caps {
				if have[c] {
					keep = append(keep, c)
				}
			}
			caps = keep
		}
		p.Capabilities = &configs.Capabilities{Bounding: caps, Effective: caps, Permitted: caps}
	}
	var wg sync.WaitGroup
	var parentSock *os.File
	if e.Detach {
		devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
		if err != nil {
			return -1, err
		}
		defer devnull.Close()
		p.Stdin, p.Stdout, p.Stderr = devnull, devnull, devnull
	} else if e.Tty {
		parent, child, err := utils.NewSockPair("console")
		if err != nil {
			return -1, err
		}
		defer parent.Close()
		defer child.Close()
		p.ConsoleSocket, parentSock = child, parent
	} else {
		if sio.In != nil {
			p.Stdin = sio.In
		}
		p.Stdout, p.Stderr = orDiscard(sio.Out), orDiscard(sio.Err)
	}
	if err := c.Run(p); err != nil {
		reapFailedExec()
		return -1, fmt.Errorf("exec in %s: %w", info.Name, startError(err))
	}
	if e.Detach {
		return 0, nil
	}
	if e.Tty {
		master, err := utils.RecvFile(parentSock)
		if err != nil {
			p.Signal(unix.SIGKILL)
			p.Wait()
			return -1, err
		}
		defer master.Close()
		r.attachConsole(master, sio, nil, &wg)
	}
	done := make(chan struct{})
	go func() {
		for {
			select {
			case sig := <-sio.Signals:
				p.Signal(sig)
			case <-ctx.Done():
				p.Signal(unix.SIGKILL)
				return
			case <-done:
				return
			}
		}
	}()
	_, werr := p.Wait()
	close(done)
	if e.Tty {
		drained := make(chan struct{})
		go func() { wg.Wait(); close(drained) }()
		select {
		case <-drained:
		case <-time.After(time.Second):
		}
	}
	return exitCodeOf(werr, p), nil
}
