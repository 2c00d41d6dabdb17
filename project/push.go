package project

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/berthdev/berth/runtime/image"
)

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
		if err := e.images.Push(ctx, s.Image, "", image.PushOptions{Config: e.registryConfig}); err != nil {
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
