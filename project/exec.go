package project

import (
	"context"
	"fmt"

	"github.com/berthdev/berth/runtime"
)

// Stdio connects the process of `berth run` or `berth exec` to the
// caller: its streams, its terminal's size and resizes, and the signals to
// forward to it.
type Stdio = runtime.Stdio

// WinSize is a terminal's size.
type WinSize = runtime.WinSize

// ExecOptions are `berth exec`'s.
type ExecOptions struct {
	Service    string
	Index      int // replica number; 0 means 1
	Command    []string
	Env        []string
	User       string
	Workdir    string
	Tty        bool
	Privileged bool
	Detach     bool
	Stdio      Stdio
}

// Exec runs a command in a running container of a service and returns its
// exit code.
func (e *Engine) Exec(ctx context.Context, p *Project, opts ExecOptions) (int, error) {
	c, err := e.serviceContainer(ctx, p, opts.Service, opts.Index)
	if err != nil {
		return -1, err
	}
	if c.Status != runtime.StatusRunning {
		return -1, fmt.Errorf("%w: %s is %s", runtime.ErrNotRunning, c.Name, c.Status)
	}
	return e.runtime.Exec(ctx, c.ID, runtime.ExecSpec{
		Args: opts.Command, Env: opts.Env, User: opts.User, Cwd: opts.Workdir,
		Tty: opts.Tty, Privileged: opts.Privileged, Detach: opts.Detach,
	}, opts.Stdio)
}
