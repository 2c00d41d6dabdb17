package project

import (
	"context"
	"fmt"
	"slices"
	"syscall"

	"github.com/berthdev/berth/runtime"
)

// ParseSignal reads a signal's name (SIGHUP, HUP) or number.
func ParseSignal(name string) (syscall.Signal, error) { return runtime.ParseSignal(name) }

// KillOptions are `berth kill`'s.
type KillOptions struct {
	Services []string
	Signal   syscall.Signal
	// RemoveOrphans also signals the containers of services that are no
	// longer in the compose file, which Kill otherwise leaves alone, as
	// docker compose's kill --remove-orphans does (it signals them; it
	// does not remove them).
	RemoveOrphans bool
	Events        Events
}

// Kill sends a signal to the project's running containers.
func (e *Engine) Kill(ctx context.Context, p *Project, opts KillOptions) error {
	running, err := e.containers(ctx, p.Name, containerQuery{Services: opts.Services, States: []runtime.Status{runtime.StatusRunning, runtime.StatusPaused}})
	if err != nil {
		return err
	}
	if !opts.RemoveOrphans && len(p.Services) > 0 {
		// Without the compose file (-p NAME alone) every container is
		// the project's.
		running = slices.DeleteFunc(running, func(c container) bool { _, ok := p.Services[c.Service]; return !ok })
	}
	if opts.Signal == 0 {
		opts.Signal = syscall.SIGKILL
	}
	if len(running) == 0 {
		return fmt.Errorf("%w: no running containers to kill", ErrNoContainers)
	}
	return each(running, func(c container) error {
		if err := e.runtime.Kill(ctx, c.ID, opts.Signal); err != nil {
			return err
		}
		opts.Events.emit(containerResource(c.Name), "Killed")
		return nil
	})
}
