package project

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/berthdev/berth/runtime"
)

// Events receives what a verb does to each resource: ("Container p-web-1",
// "Started"). A nil Events is silent.
type Events func(resource, status string)

func (f Events) emit(resource, status string) {
	if f != nil {
		f(resource, status)
	}
}

func containerResource(name string) string { return "Container " + name }

// each runs fn on every container concurrently and joins the errors.
func each(cs []container, fn func(container) error) error {
	var wg sync.WaitGroup
	errs := make([]error, len(cs))
	for i, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = fn(c)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

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
	cs, err := projectContainers(ctx, e.Runtime, p.Name, false)
	if err != nil {
		return err
	}
	cs = filterServices(cs, opts.Services)
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
			if err := e.Runtime.Stop(ctx, c.ID, stopTimeout(timeout)); err != nil {
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
	cs, err := projectContainers(ctx, e.Runtime, p.Name, false)
	if err != nil {
		return err
	}
	cs = filterServices(cs, opts.Services)
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
	if err := e.Runtime.Start(ctx, c.ID); err != nil {
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
	return e.Links.Restore(ctx, c.Labels[LabelProject], c.Spec.NetNS)
}

// replaceMonitor gives a running container whose monitor was killed a new
// one, saying what it could not take over and what brings that back. It
// reports false (and no error) when the container turned out to have
// exited in the meantime.
func (e *Engine) replaceMonitor(ctx context.Context, c container, ev Events) (bool, error) {
	lost, err := e.Runtime.Adopt(ctx, c.ID)
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

// withRestartDependents adds to services (none means all) every service
// that depends on one of them, directly or not, with `restart: true`.
func withRestartDependents(p *Project, services []string) []string {
	if len(services) == 0 {
		return nil
	}
	in := map[string]bool{}
	out := append([]string{}, services...)
	for _, s := range services {
		in[s] = true
	}
	for grew := true; grew; {
		grew = false
		for _, name := range p.ServiceNames() {
			if in[name] {
				continue
			}
			for dep, d := range p.Services[name].DependsOn {
				if d.Restart && in[dep] {
					in[name], grew = true, true
					out = append(out, name)
					break
				}
			}
		}
	}
	return out
}

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

// Pause freezes (or with unpause thaws) the project's running containers.
func (e *Engine) Pause(ctx context.Context, p *Project, services []string, unpause bool, ev Events) error {
	cs, err := projectContainers(ctx, e.Runtime, p.Name, false)
	if err != nil {
		return err
	}
	cs = filterServices(cs, services)
	return each(cs, func(c container) error {
		if unpause {
			if c.Status != runtime.StatusPaused {
				return nil
			}
			if err := e.Runtime.Unpause(ctx, c.ID); err != nil {
				return err
			}
			ev.emit(containerResource(c.Name), "Unpaused")
			return nil
		}
		if c.Status != runtime.StatusRunning {
			return nil
		}
		if err := e.Runtime.Pause(ctx, c.ID); err != nil {
			return err
		}
		ev.emit(containerResource(c.Name), "Paused")
		return nil
	})
}

// WaitOptions are `berth wait`'s.
type WaitOptions struct {
	Services   []string
	DownOnExit bool
}

// Wait blocks until the services' containers stop and returns the first
// exit code.
func (e *Engine) Wait(ctx context.Context, p *Project, opts WaitOptions) (int, error) {
	cs, err := projectContainers(ctx, e.Runtime, p.Name, false)
	if err != nil {
		return -1, err
	}
	cs = filterServices(cs, opts.Services)
	if len(cs) == 0 {
		return -1, fmt.Errorf("%w: no containers to wait for", ErrNoContainers)
	}
	type res struct {
		code int
		err  error
	}
	ch := make(chan res, len(cs))
	for _, c := range cs {
		go func() {
			code, err := e.Runtime.Wait(ctx, c.ID)
			ch <- res{code, err}
		}()
	}
	r := <-ch
	if opts.DownOnExit {
		if err := e.Down(ctx, p, DownOptions{}); err != nil {
			return r.code, err
		}
	}
	return r.code, r.err
}
