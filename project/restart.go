package project

import (
	"context"
	"time"
)

// RestartOptions are `berth restart`'s.
type RestartOptions struct {
	Services []string
	Timeout  *time.Duration
	NoDeps   bool
	Events   Events
}

// Restart stops then starts the project's containers. The services that
// depend on a restarted one with `restart: true` are restarted too, unless
// NoDeps, as docker compose does. It holds the project's lock from the
// stop to the start, so that no other verb (an attached up looking for
// containers that stopped) sees the services between the two.
func (e *Engine) Restart(ctx context.Context, p *Project, opts RestartOptions) error {
	services := opts.Services
	if !opts.NoDeps {
		services = withRestartDependents(p, services)
	}
	unlock, err := e.lock(ctx, p.Name)
	if err != nil {
		return err
	}
	defer unlock()
	if err := e.stop(ctx, p, StopOptions{Services: services, Timeout: opts.Timeout, Events: opts.Events}); err != nil {
		return err
	}
	return e.start(ctx, p, StartOptions{Services: services, Events: opts.Events})
}
