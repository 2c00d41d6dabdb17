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
	cs, err := projectContainers(ctx, e.Runtime, p.Name, false)
	if err != nil {
		return err
	}
	cs = filterServices(cs, opts.Services)
	if opts.Signal == 0 {
		opts.Signal = syscall.SIGKILL
	}
	var running []container
	for _, c := range cs {
		if c.Status == runtime.StatusRunning || c.Status == runtime.StatusPaused {
			running = append(running, c)
		}
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
