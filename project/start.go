package project

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/berthdev/berth/runtime"
)

// StartOptions are `berth start`'s.
type StartOptions struct {
	Services []string
	Events   Events
}

// Start starts existing containers of the project in dependency order.
func (e *Engine) Start(ctx context.Context, p *Project, opts StartOptions) error {
	unlock, err := e.lock(ctx, p.Name)
	if err != nil {
		return err
	}
	defer unlock()
	return e.start(ctx, p, opts)
}

// start is Start under the project's lock.
func (e *Engine) start(ctx context.Context, p *Project, opts StartOptions) error {
	cs, err := e.containers(ctx, p.Name, containerQuery{Services: opts.Services})
	if err != nil {
		return err
	}
	if len(cs) == 0 {
		return fmt.Errorf("%w: no containers of project %s to start; use `berth up`", ErrNoContainers, p.Name)
	}
	for _, level := range levels(p, cs) {
		err := each(level, func(c container) error {
			if err := e.waitDependencies(ctx, p, c.Service); err != nil {
				return err
			}
			return e.startContainer(ctx, c, opts.Events)
		})
		if err != nil {
			return err
		}
	}
	return e.refreshHosts(p.Name)
}

// startContainer starts a stopped container, and gives a running one
// whose monitor was killed a new monitor.
func (e *Engine) startContainer(ctx context.Context, c container, ev Events) error {
	if c.running() {
		if c.MonitorAlive {
			ev.emit(containerResource(c.Name), "Running")
			return nil
		}
		if done, err := e.replaceMonitor(ctx, c, ev); done || err != nil {
			return err
		}
		// It exited meanwhile: it starts like any stopped container.
	}
	ev.emit(containerResource(c.Name), "Starting")
	if err := e.restoreNetwork(ctx, c); err != nil {
		ev.emit(containerResource(c.Name), "Error: "+err.Error())
		return fmt.Errorf("starting %s: %w", c.Name, err)
	}
	if err := e.beforeStart(ctx, c); err != nil {
		ev.emit(containerResource(c.Name), "Error: "+err.Error())
		return err
	}
	if err := e.runtime.Start(ctx, c.ID); err != nil {
		ev.emit(containerResource(c.Name), "Error: "+err.Error())
		return fmt.Errorf("starting %s: %w", c.Name, err)
	}
	ev.emit(containerResource(c.Name), "Started")
	return nil
}

// restoreNetwork makes the container's network namespace, and its
// networks' bridges and rules, exist again where a reboot took them: the
// namespace is a bind mount under the state directory, which a reboot
// empties, while the container keeps its path in its spec.
func (e *Engine) restoreNetwork(ctx context.Context, c container) error {
	if c.Spec.Network != runtime.NetworkPath {
		return nil
	}
	return e.links.Restore(ctx, c.Labels[LabelProject], c.Spec.NetNS)
}

// replaceMonitor gives a running container whose monitor was killed a new
// one, saying what it could not take over and what brings that back. It
// reports false (and no error) when the container turned out to have
// exited in the meantime.
func (e *Engine) replaceMonitor(ctx context.Context, c container, ev Events) (bool, error) {
	lost, err := e.runtime.Adopt(ctx, c.ID)
	if errors.Is(err, runtime.ErrNotRunning) {
		return false, nil
	}
	if err != nil {
		ev.emit(containerResource(c.Name), "Error: "+err.Error())
		return true, fmt.Errorf("replacing the lost monitor of %s: %w", c.Name, err)
	}
	status := "Running with a new monitor"
	if len(lost) > 0 {
		status = fmt.Sprintf("Running with a new monitor, without %s: run `berth restart %s` to get it back", strings.Join(lost, "; "), c.Service)
	}
	ev.emit(containerResource(c.Name), status)
	return true, nil
}
