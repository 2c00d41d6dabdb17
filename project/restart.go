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
// NoDeps, as docker compose does.
func (e *Engine) Restart(ctx context.Context, p *Project, opts RestartOptions) error {
	services := opts.Services
	if !opts.NoDeps {
		services = withRestartDependents(p, services)
	}
	if err := e.Stop(ctx, p, StopOptions{Services: services, Timeout: opts.Timeout, Events: opts.Events}); err != nil {
		return err
	}
	return e.Start(ctx, p, StartOptions{Services: services, Events: opts.Events})
}
