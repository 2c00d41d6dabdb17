package project

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/berthdev/berth/runtime"
)

// UpOptions are `berth up`'s.
type UpOptions struct {
	Services         []string
	NoDeps           bool
	Build            bool
	NoBuild          bool
	Pull             string // "", always, missing, never, build
	ForceRecreate    bool
	NoRecreate       bool
	RemoveOrphans    bool
	RenewAnonVolumes bool
	Scale            map[string]int
	NoStart          bool
	Wait             bool
	WaitTimeout      time.Duration
	Timeout          *time.Duration
	// AlwaysRecreateDeps recreates the containers of the services that
	// the named ones depend on, changed or not, as the named ones are
	// with ForceRecreate (--always-recreate-deps).
	AlwaysRecreateDeps bool
	// Attach, when set, keeps Up with the stack once it is up (an
	// attached `up`, attach.go); it is ignored with NoStart.
	Attach *AttachOptions
	Events Events
}

// Up reconciles the project into running containers: images, networks and
// volumes first, then the plan's actions service by service in dependency
// order, independent services in parallel.
//
// With Attach, Up then follows the stack until it stops, and stops it;
// it returns ctx's error when ctx ended the stack (Ctrl-C), and an
// *ExitError for the exit code of Attach.ExitCodeFrom.
func (e *Engine) Up(ctx context.Context, p *Project, opts UpOptions) error {
	attach := opts.Attach != nil && !opts.NoStart
	if attach {
		if err := opts.Attach.check(p, opts.Services); err != nil {
			return err
		}
	}
	unlock, err := e.lock(ctx, p.Name)
	if err != nil {
		return err
	}
	err = e.up(ctx, p, opts)
	unlock()
	if err != nil || !attach {
		return err
	}
	return e.attach(ctx, p, opts.Services, *opts.Attach, opts.Timeout, opts.Events)
}

func (e *Engine) up(ctx context.Context, p *Project, opts UpOptions) error {
	selected, err := selectServices(p, opts.Services, !opts.NoDeps)
	if err != nil {
		return err
	}
	// Everything that can fail without touching the host fails first.
	if err := e.preflight(ctx, p, selected); err != nil {
		return err
	}
	images, err := e.ensureImages(ctx, p, selected, imageOptions{Build: opts.Build, NoBuild: opts.NoBuild, Pull: opts.Pull, Events: opts.Events})
	if err != nil {
		return err
	}
	if err := e.ensureNetworks(ctx, p, selected, opts.Events); err != nil {
		return err
	}
	if err := e.ensureVolumes(ctx, p, selected, opts.Events); err != nil {
		return err
	}
	observed, err := e.containers(ctx, p.Name, containerQuery{})
	if err != nil {
		return err
	}
	plan := e.plan(p, selected, images, observed, opts)
	for _, orphan := range plan.Orphans {
		if !opts.RemoveOrphans {
			opts.Events.emit(containerResource(orphan.Name), "Orphan (its service is gone; --remove-orphans removes it)")
			continue
		}
		if err := e.removeContainer(ctx, orphan, opts.Timeout, false, opts.Events); err != nil {
			return err
		}
	}

	recreated := map[string]bool{}
	var mu sync.Mutex
	for _, level := range serviceLevels(p, selected) {
		var wg sync.WaitGroup
		errs := make([]error, len(level))
		for i, name := range level {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if !opts.NoStart {
					if err := e.waitDependencies(ctx, p, name); err != nil {
						errs[i] = err
						return
					}
				}
				mu.Lock()
				depRecreated := dependencyRecreated(p, name, recreated)
				mu.Unlock()
				did, err := e.applyService(ctx, p, name, images[name], plan.Services[name], depRecreated, opts)
				if did {
					mu.Lock()
					recreated[name] = true
					mu.Unlock()
				}
				errs[i] = err
			}()
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return err
		}
		// The level's containers wrote only their own hosts files; the
		// containers already running learn of them now, before the next
		// level starts.
		if err := e.refreshHosts(p.Name); err != nil {
			return err
		}
	}
	if err := e.refreshDiscovery(ctx, p); err != nil {
		return err
	}
	if opts.Wait && !opts.NoStart {
		wctx := ctx
		if opts.WaitTimeout > 0 {
			var cancel context.CancelFunc
			wctx, cancel = context.WithTimeout(ctx, opts.WaitTimeout)
			defer cancel()
		}
		return e.waitReady(wctx, p, selected, opts.Events)
	}
	return nil
}

// applyService carries out one service's part of the plan; it reports
// whether it (re)created containers, for dependants with restart: true.
func (e *Engine) applyService(ctx context.Context, p *Project, name string, img *serviceImage, sp servicePlan, depRecreated bool, opts UpOptions) (bool, error) {
	if depRecreated && !opts.NoRecreate {
		sp = sp.withRestartAll()
	}
	changed := false
	for _, c := range sp.Restart {
		opts.Events.emit(containerResource(c.Name), "Restarting")
		if err := e.runtime.Stop(ctx, c.ID, stopTimeout(opts.Timeout)); err != nil {
			return changed, err
		}
		info, err := e.runtime.Inspect(ctx, c.ID)
		if err != nil {
			return changed, err
		}
		c.Info = info
		if !opts.NoStart {
			if err := e.startContainer(ctx, c, opts.Events); err != nil {
				return changed, err
			}
		}
	}
	for _, c := range sp.Remove {
		if err := e.removeContainer(ctx, c, opts.Timeout, false, opts.Events); err != nil {
			return changed, err
		}
	}
	for _, old := range sp.Recreate {
		opts.Events.emit(containerResource(old.Name), "Recreate")
		if old.running() {
			if err := e.runtime.Stop(ctx, old.ID, stopTimeout(opts.Timeout)); err != nil {
				return changed, err
			}
		}
		c, err := e.createContainer(ctx, p, name, old.Number, img, &old, opts)
		if err != nil {
			return changed, err
		}
		if err := e.removeContainer(ctx, old, opts.Timeout, false, nil); err != nil {
			return changed, err
		}
		if c, err = e.finishRecreate(ctx, p, c); err != nil {
			return changed, err
		}
		changed = true
		opts.Events.emit(containerResource(c.Name), "Recreated")
		if !opts.NoStart {
			if err := e.startContainer(ctx, c, opts.Events); err != nil {
				return changed, err
			}
		}
	}
	for _, n := range sp.Create {
		c, err := e.createContainer(ctx, p, name, n, img, nil, opts)
		if err != nil {
			return changed, err
		}
		changed = true
		opts.Events.emit(containerResource(c.Name), "Created")
		if !opts.NoStart {
			if err := e.startContainer(ctx, c, opts.Events); err != nil {
				return changed, err
			}
		}
	}
	if !opts.NoStart {
		for _, c := range sp.Start {
			if err := e.startContainer(ctx, c, opts.Events); err != nil {
				return changed, err
			}
		}
		// A kept container that runs is left alone, but for a monitor it
		// lost, which startContainer replaces.
		for _, c := range sp.Keep {
			if err := e.startContainer(ctx, c, opts.Events); err != nil {
				return changed, err
			}
		}
	}
	return changed, nil
}

// waitDependencies blocks until every dependency of service meets its
// depends_on condition, failing when one never can.
func (e *Engine) waitDependencies(ctx context.Context, p *Project, service string) error {
	svc, ok := p.Services[service]
	if !ok {
		return nil
	}
	for dep, cond := range svc.DependsOn {
		if err := e.waitCondition(ctx, p, service, dep, cond.Condition, cond.Required); err != nil {
			return err
		}
	}
	return nil
}

func (e *Engine) waitCondition(ctx context.Context, p *Project, service, dep, condition string, required bool) error {
	if condition == "" {
		condition = "service_started"
	}
	for {
		cs, err := e.containers(ctx, p.Name, containerQuery{Services: []string{dep}})
		if err != nil {
			return err
		}
		if len(cs) == 0 {
			if !required {
				return nil
			}
			if _, inProject := p.Services[dep]; !inProject {
				return fmt.Errorf("service %q depends on %q, which is not in the project", service, dep)
			}
		}
		met := len(cs) > 0
		for _, c := range cs {
			switch condition {
			case "service_started":
				met = met && (c.running() || c.Status == runtime.StatusExited)
			case "service_healthy":
				if c.Health == runtime.HealthUnhealthy {
					return fmt.Errorf("%w: container %s is unhealthy (%s waits for it to be healthy)", ErrDependencyFailed, c.Name, service)
				}
				if c.Status == runtime.StatusExited {
					return fmt.Errorf("%w: container %s exited (%d) (%s waits for it to be healthy)", ErrDependencyFailed, c.Name, c.ExitCode, service)
				}
				if c.Spec.Healthcheck == nil {
					return fmt.Errorf("%w: container %s has no healthcheck configured (%s waits for it to be healthy)", ErrDependencyFailed, c.Name, service)
				}
				met = met && c.Health == runtime.HealthHealthy
			case "service_completed_successfully":
				if c.Status == runtime.StatusExited && c.ExitCode != 0 {
					return fmt.Errorf("%w: container %s exited (%d) (%s waits for it to complete successfully)", ErrDependencyFailed, c.Name, c.ExitCode, service)
				}
				met = met && c.Status == runtime.StatusExited
			default:
				return fmt.Errorf("service %q: depends_on %q: unknown condition %q", service, dep, condition)
			}
		}
		if met {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// waitReady is `up --wait`: every selected service running (and healthy
// where it has a health check), or completed for one-shot services that
// others depend on.
func (e *Engine) waitReady(ctx context.Context, p *Project, services []string, ev Events) error {
	for {
		cs, err := e.containers(ctx, p.Name, containerQuery{Services: services})
		if err != nil {
			return err
		}
		ready := true
		for _, c := range cs {
			switch {
			case c.Status == runtime.StatusExited && c.ExitCode == 0:
			case c.Status == runtime.StatusExited:
				return fmt.Errorf("%w: container %s exited (%d)", ErrDependencyFailed, c.Name, c.ExitCode)
			case c.Health == runtime.HealthUnhealthy:
				return fmt.Errorf("%w: container %s is unhealthy", ErrDependencyFailed, c.Name)
			case c.Health == runtime.HealthStarting:
				ready = false
			case c.Status != runtime.StatusRunning:
				ready = false
			}
		}
		if ready {
			for _, c := range cs {
				if c.Health == runtime.HealthHealthy {
					ev.emit(containerResource(c.Name), "Healthy")
				}
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for the services to be ready: %w", ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}
