package project

import (
	"context"
	"errors"
	"fmt"

	"github.com/berthdev/berth/project/kube"
	"github.com/berthdev/berth/runtime/image"
)

// ErrNoRegistry means images were to be pushed for a cluster without a
// registry to push them to.
var ErrNoRegistry = errors.New("pushing images needs a registry (--registry)")

// The defaults of KubernetesOptions, named here so that the CLI needs
// project alone.
const (
	KubeNodePort          = kube.NodePort
	KubeDefaultVolumeSize = kube.DefaultVolumeSize
	KubeSizeExtension     = kube.SizeExtension
	KubeDefaultWaitImage  = kube.DefaultWaitImage
)

// KubernetesOptions are `berth export kubernetes`'s.
type KubernetesOptions struct {
	kube.Options
	// Strict fails the export when compose says what Kubernetes cannot
	// express; the error lists each warning.
	Strict bool
	// Push pushes the images berth builds to Options.Registry first,
	// building those not in the store.
	Push   bool
	Events Events
}

// ExportKubernetes converts the named services (all when none) and their
// dependencies into Kubernetes manifests, from the same model up runs.
// The engine is needed with Push only, and may be nil without.
func ExportKubernetes(ctx context.Context, p *Project, e *Engine, opts KubernetesOptions) (*kube.Export, error) {
	if opts.Push && opts.Registry == "" {
		return nil, ErrNoRegistry
	}
	names, err := selectServices(p, opts.Services, true)
	if err != nil {
		return nil, err
	}
	opts.Options.Services = names
	x, err := kube.Convert(p, opts.Options)
	if err != nil {
		return nil, err
	}
	if opts.Strict {
		if err := x.StrictError(); err != nil {
			return x, err
		}
	}
	if opts.Push {
		if err := e.pushForExport(ctx, p, x.Images, opts.Events); err != nil {
			return x, err
		}
	}
	return x, nil
}

// pushForExport pushes each image berth builds to the name the manifests
// give it, building it first where the store lacks it.
func (e *Engine) pushForExport(ctx context.Context, p *Project, images []kube.Image, ev Events) error {
	for _, img := range images {
		s := p.Services[img.Service]
		_, err := e.images.Get(ctx, img.Local)
		if errors.Is(err, image.ErrNotFound) {
			ev.emit("Image "+img.Local, "Building")
			_, err = e.buildService(ctx, s, img.Local)
			if err != nil {
				ev.emit("Image "+img.Local, "Error")
				return fmt.Errorf("service %q: building %s: %w", img.Service, img.Local, err)
			}
			ev.emit("Image "+img.Local, "Built")
		}
		if err != nil {
			return fmt.Errorf("service %q: %w", img.Service, err)
		}
		ev.emit("Image "+img.Remote, "Pushing")
		if err := e.images.Push(ctx, img.Local, img.Remote, image.PushOptions{Config: e.registryConfig}); err != nil {
			ev.emit("Image "+img.Remote, "Error")
			return fmt.Errorf("service %q: %w", img.Service, err)
		}
		ev.emit("Image "+img.Remote, "Pushed")
	}
	return nil
}
