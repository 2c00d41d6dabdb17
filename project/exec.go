package project

import (
	"context"
	"fmt"

	"github.com/berthdev/berth/runtime"
)

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
	Stdio      runtime.Stdio
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
	return e.Runtime.Exec(ctx, c.ID, runtime.ExecSpec{
		Args: opts.Command, Env: opts.Env, User: opts.User, Cwd: opts.Workdir,
		Tty: opts.Tty, Privileged: opts.Privileged, Detach: opts.Detach,
	}, opts.Stdio)
}
