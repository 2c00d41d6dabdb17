package project

import (
	"context"
	"errors"
	"github.com/berthdev/berth/internal/timing"
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
	cs, err := e.containers(ctx, p.Name, containerQuery{Oneoff: true})
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
	end := timing.Span("down: stop")
	if err := e.stopInOrder(ctx, p, mine, opts.Timeout, opts.Events); err != nil {
		errs = append(errs, err)
	}
	end()
	// When the whole project goes, its networking is torn down at once
	// instead of container by container, while the containers' files are
	// removed: their processes are gone. What it reports comes after the
	// containers' removal, as it would in turn.
	wholeProject := len(orphans) == 0 || opts.RemoveOrphans
	var networks chan error
	var networkEvents [][2]string
	if wholeProject {
		networks = make(chan error, 1)
		go func() {
			defer timing.Span("down: networks")()
			networks <- e.removeNetworks(ctx, p, func(resource, status string) {
				networkEvents = append(networkEvents, [2]string{resource, status})
			})
		}()
	}
	// Anonymous volumes go after every container: a volumes_from consumer
	// holds its producer's volumes until it is removed itself.
	end = timing.Span("down: remove containers")
	errs = append(errs, each(mine, func(c container) error {
		return e.removeContainerOpts(ctx, c, opts.Timeout, false, !wholeProject, opts.Events)
	}))
	end()
	// A keeper whose starter was killed before handing it a container
	// watches nothing; it goes with the project.
	errs = append(errs, e.runtime.ReleaseKeeper(ctx, p.Name))
	if !wholeProject {
		for _, o := range orphans {
			opts.Events.emit(containerResource(o.Name), "Orphan (kept; --remove-orphans removes it)")
		}
	} else {
		errs = append(errs, <-networks)
		for _, ev := range networkEvents {
			opts.Events.emit(ev[0], ev[1])
		}
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
