package project

import (
	"context"
	"errors"
	"time"
)

// DownOptions are `berth down`'s.
type DownOptions struct {
	// Volumes also removes the project's named volumes (never external
	// ones) and its containers' anonymous volumes. Nothing else ever
	// deletes volume data.
	Volumes       bool
	RemoveImages  string // "", "local", "all"
	RemoveOrphans bool
	Timeout       *time.Duration
	Events        Events
}

// Down stops and removes the project's containers (one-off ones too),
// networks, links and rules; with Volumes, its volumes; with RemoveImages,
// its images. What it cannot remove it reports, after removing the rest.
func (e *Engine) Down(ctx context.Context, p *Project, opts DownOptions) error {
	unlock, err := e.lock(ctx, p.Name)
	if err != nil {
		return err
	}
	defer unlock()
	e.downThrowaway(p.Name, &opts)
	cs, err := projectContainers(ctx, e.Runtime, p.Name, true)
	if err != nil {
		return err
	}
	var errs []error
	// Containers of services no longer in the file are orphans: compose
	// leaves them unless asked, but a down that leaves a network in use
	// would fail, so they are stopped either way and removed on request.
	var mine, orphans []container
	for _, c := range cs {
		if _, ok := p.Services[c.Service]; ok || c.Oneoff || len(p.Services) == 0 {
			mine = append(mine, c)
		} else {
			orphans = append(orphans, c)
		}
	}
	if opts.RemoveOrphans {
		mine = append(mine, orphans...)
	}
	if err := e.stopInOrder(ctx, p, mine, opts.Timeout, opts.Events); err != nil {
		errs = append(errs, err)
	}
	// When the whole project goes, its networking is torn down at once
	// below instead of container by container.
	wholeProject := len(orphans) == 0 || opts.RemoveOrphans
	// Anonymous volumes go after every container: a volumes_from consumer
	// holds its producer's volumes until it is removed itself.
	errs = append(errs, each(mine, func(c container) error {
		return e.removeContainerOpts(ctx, c, opts.Timeout, false, !wholeProject, opts.Events)
	}))
	if !wholeProject {
		for _, o := range orphans {
			opts.Events.emit(containerResource(o.Name), "Orphan (kept; --remove-orphans removes it)")
		}
	} else {
		errs = append(errs, e.removeNetworks(ctx, p, opts.Events))
	}
	if opts.Volumes {
		errs = append(errs, e.removeVolumes(ctx, p, opts.Events))
		errs = append(errs, e.removeThrowawayVolumes(ctx, p.Name, opts.Events))
	}
	if opts.RemoveImages != "" {
		errs = append(errs, e.removeImages(ctx, p, opts.RemoveImages, opts.Events))
	}
	err = errors.Join(errs...)
	if err == nil {
		e.forgetThrowaway(p.Name)
		e.forgetProject(ctx, p.Name)
	}
	return err
}

// RemoveOptions are `berth rm`'s.
type RemoveOptions struct {
	Services []string
	Force    bool // stop running containers first
	Stop     bool
	Volumes  bool // anonymous volumes of the removed containers
	Events   Events
}

// Remove removes stopped service containers (running ones with Stop).
func (e *Engine) Remove(ctx context.Context, p *Project, opts RemoveOptions) error {
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
	if opts.Stop || opts.Force {
		if err := e.stopInOrder(ctx, p, cs, nil, opts.Events); err != nil {
			return err
		}
		if cs, err = projectContainers(ctx, e.Runtime, p.Name, false); err != nil {
			return err
		}
		cs = filterServices(cs, opts.Services)
	}
	var stopped []container
	for _, c := range cs {
		if !c.running() {
			stopped = append(stopped, c)
		}
	}
	return each(stopped, func(c container) error {
		return e.removeContainer(ctx, c, nil, opts.Volumes, opts.Events)
	})
}

// removeContainer stops (if needed) and removes one container and releases
// what it held: its network attachment and its volume references;
// anonymous volumes only with removeAnon.
func (e *Engine) removeContainer(ctx context.Context, c container, timeout *time.Duration, removeAnon bool, ev Events) error {
	return e.removeContainerOpts(ctx, c, timeout, removeAnon, true, ev)
}

func (e *Engine) removeContainerOpts(ctx context.Context, c container, timeout *time.Duration, removeAnon, detach bool, ev Events) error {
	ev.emit(containerResource(c.Name), "Removing")
	if c.running() {
		if err := e.Runtime.Stop(ctx, c.ID, stopTimeout(timeout)); err != nil {
			return err
		}
	}
	if err := e.Runtime.Remove(ctx, c.ID, true); err != nil {
		ev.emit(containerResource(c.Name), "Error: "+err.Error())
		return err
	}
	if err := e.afterRemove(ctx, c, removeAnon, detach); err != nil {
		return err
	}
	ev.emit(containerResource(c.Name), "Removed")
	return nil
}
