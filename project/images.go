package project

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/berthdev/berth/runtime/image"
)

// PullOptions are `berth pull`'s.
type PullOptions struct {
	Services       []string
	IncludeDeps    bool
	IgnoreFailures bool
	Progress       func(image.Progress)
	Events         Events
}

// Pull pulls the images of the services that have an image: key (a
// service that only builds has nothing to pull).
func (e *Engine) Pull(ctx context.Context, p *Project, opts PullOptions) error {
	names, err := selectServices(p, opts.Services, opts.IncludeDeps)
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	var errs []error
	for _, n := range names {
		s := p.Services[n]
		if s.Image == "" || seen[s.Image] {
			continue
		}
		if s.Build != nil && s.PullPolicy == "build" {
			continue
		}
		seen[s.Image] = true
		opts.Events.emit("Image "+s.Image, "Pulling")
		if _, err := e.Images.Pull(ctx, s.Image, image.PullOptions{Config: e.RegistryConfig, Progress: opts.Progress}); err != nil {
			opts.Events.emit("Image "+s.Image, "Error")
			if opts.IgnoreFailures {
				continue
			}
			errs = append(errs, fmt.Errorf("service %q: %w", n, err))
			continue
		}
		opts.Events.emit("Image "+s.Image, "Pulled")
	}
	return errors.Join(errs...)
}

// Push pushes the images of the services that name one.
func (e *Engine) Push(ctx context.Context, p *Project, services []string, ignoreFailures bool, ev Events) error {
	names, err := selectServices(p, services, false)
	if err != nil {
		return err
	}
	sort.Strings(names)
	var errs []error
	for _, n := range names {
		s := p.Services[n]
		if s.Image == "" {
			continue
		}
		ev.emit("Image "+s.Image, "Pushing")
		if err := e.Images.Push(ctx, s.Image, "", image.PushOptions{Config: e.RegistryConfig}); err != nil {
			ev.emit("Image "+s.Image, "Error")
			if !ignoreFailures {
				errs = append(errs, fmt.Errorf("service %q: %w", n, err))
			}
			continue
		}
		ev.emit("Image "+s.Image, "Pushed")
	}
	return errors.Join(errs...)
}
