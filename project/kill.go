package project

import (
	"context"
	"fmt"
	"syscall"

	"github.com/berthdev/berth/runtime"
)

// KillOptions are `berth kill`'s.
type KillOptions struct {
	Services []string
	Signal   syscall.Signal
	Events   Events
}

// Kill sends a signal to the project's running containers.
func (e *Engine) Kill(ctx context.Context, p *Project, opts KillOptions) error {
	running, err := e.containers(ctx, p.Name, containerQuery{Services: opts.Services, States: []runtime.Status{runtime.StatusRunning, runtime.StatusPaused}})
	if err != nil {
		return err
	}
	if opts.Signal == 0 {
		opts.Signal = syscall.SIGKILL
	}
	if len(running) == 0 {
		return fmt.Errorf("%w: no running containers to kill", ErrNoContainers)
	}
	return each(running, func(c container) error {
		if err := e.Runtime.Kill(ctx, c.ID, opts.Signal); err != nil {
			return err
		}
		opts.Events.emit(containerResource(c.Name), "Killed")
		return nil
	})
}
