package project

import (
	"context"
	"errors"
	"fmt"

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
		if _, err := e.images.Pull(ctx, s.Image, image.PullOptions{Config: e.registryConfig, Progress: opts.Progress}); err != nil {
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
