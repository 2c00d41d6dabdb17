package project

import (
	"context"
	"time"
)

// StopOptions are `berth stop`'s.
type StopOptions struct {
	Services []string
	Timeout  *time.Duration
	Events   Events
}

// Stop stops the project's running containers, dependants before their
// dependencies when the project is known.
func (e *Engine) Stop(ctx context.Context, p *Project, opts StopOptions) error {
	unlock, err := e.lock(ctx, p.Name)
	if err != nil {
		return err
	}
	defer unlock()
	return e.stop(ctx, p, opts)
}

// stop is Stop under the project's lock.
func (e *Engine) stop(ctx context.Context, p *Project, opts StopOptions) error {
	cs, err := e.containers(ctx, p.Name, containerQuery{Services: opts.Services})
	if err != nil {
		return err
	}
	return e.stopInOrder(ctx, p, cs, opts.Timeout, opts.Events)
}

// stopInOrder stops containers level by level in reverse dependency order.
func (e *Engine) stopInOrder(ctx context.Context, p *Project, cs []container, timeout *time.Duration, ev Events) error {
	for _, level := range reverseLevels(p, cs) {
		err := each(level, func(c container) error {
			if !c.running() {
				return nil
			}
			ev.emit(containerResource(c.Name), "Stopping")
			if err := e.runtime.Stop(ctx, c.ID, stopTimeout(timeout)); err != nil {
				ev.emit(containerResource(c.Name), "Error: "+err.Error())
				return err
			}
			ev.emit(containerResource(c.Name), "Stopped")
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func stopTimeout(t *time.Duration) time.Duration {
	if t == nil {
		return 0 // the container's own stop_grace_period
	}
	if *t <= 0 {
		return -1 // kill at once
	}
	return *t
}
