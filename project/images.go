package project

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/berthdev/berth/runtime/image"
	"github.com/compose-spec/compose-go/v2/types"
)

// serviceImage is the image a service's containers run.
type serviceImage struct {
	Image  *image.Image
	Layers []string
}

type imageOptions struct {
	Build   bool
	NoBuild bool
	Pull    string
	Events  Events
}

// ImageName is the name a service's image has in the store: image:, or
// <project>-<service> for a build without one, as compose names it.
func ImageName(p *Project, s types.ServiceConfig) string { return imageName(p, s) }

func imageName(p *Project, s types.ServiceConfig) string {
	if s.Image != "" {
		return s.Image
	}
	return p.Name + "-" + s.Name
}

// ensureImages makes sure every service has its image: built where the
// service builds (or --build), pulled where missing or where the pull
// policy says so.
func (e *Engine) ensureImages(ctx context.Context, p *Project, services []string, opts imageOptions) (map[string]*serviceImage, error) {
	out := map[string]*serviceImage{}
	for _, name := range services {
		s := p.Services[name]
		if strings.HasPrefix(s.NetworkMode, "container:") && s.Image == "" {
			continue
		}
		ref := imageName(p, s)
		img, err := e.images.Get(ctx, ref)
		missing := errors.Is(err, image.ErrNotFound)
		if err != nil && !missing {
			return nil, err
		}
		policy := s.PullPolicy
		if opts.Pull != "" {
			policy = opts.Pull
		}
		build := s.Build != nil && !opts.NoBuild && (opts.Build || missing || policy == types.PullPolicyBuild)
		pull := !build && (policy == types.PullPolicyAlways || (missing && policy != types.PullPolicyNever))
		switch {
		case build:
			opts.Events.emit("Image "+ref, "Building")
			if img, err = e.buildService(ctx, s, ref); err != nil {
				opts.Events.emit("Image "+ref, "Error: "+err.Error())
				return nil, fmt.Errorf("service %q: building %s: %w", name, ref, err)
			}
			opts.Events.emit("Image "+ref, "Built")
		case pull:
			opts.Events.emit("Image "+ref, "Pulling")
			if img, err = e.images.Pull(ctx, ref, image.PullOptions{Config: e.registryConfig}); err != nil {
				opts.Events.emit("Image "+ref, "Error")
				return nil, fmt.Errorf("service %q: %w", name, err)
			}
			opts.Events.emit("Image "+ref, "Pulled")
		case missing:
			return nil, fmt.Errorf("service %q: image %s is not in the store and pull_policy is never: %w", name, ref, image.ErrNotFound)
		}
		layers, err := e.images.Snapshots(ctx, img)
		if err != nil {
			return nil, err
		}
		out[name] = &serviceImage{Image: img, Layers: layers}
	}
	return out, nil
}

// removeImages is `down --rmi`: local removes images the project built
// (those without an image: key), all removes every service's image.
func (e *Engine) removeImages(ctx context.Context, p *Project, mode string, ev Events) error {
	var errs []error
	seen := map[string]bool{}
	for _, name := range p.ServiceNames() {
		s := p.Services[name]
		if mode == "local" && s.Image != "" {
			continue
		}
		ref := imageName(p, s)
		if seen[ref] {
			continue
		}
		seen[ref] = true
		if _, err := e.images.Remove(ctx, ref, image.RemoveOptions{}); err != nil && !errors.Is(err, image.ErrNotFound) {
			errs = append(errs, err)
			continue
		}
		ev.emit("Image "+ref, "Removed")
	}
	return errors.Join(errs...)
}

// ImageSummary is one line of `berth images` in a project: the image a
// container of the project was created from.
type ImageSummary struct {
	ContainerName string    `json:"ContainerName"`
	Service       string    `json:"Service"`
	Repository    string    `json:"Repository"`
	Tag           string    `json:"Tag"`
	ID            string    `json:"ID"`
	Size          int64     `json:"Size"`
	Created       time.Time `json:"Created"`
}

// ProjectImages lists the images of the project's containers (stopped ones
// too), as `docker compose images` does. An image removed from the store
// since is listed by the name and ID the container recorded.
func (e *Engine) ProjectImages(ctx context.Context, p *Project, services []string) ([]ImageSummary, error) {
	cs, err := e.containers(ctx, p.Name, containerQuery{Services: services, Oneoff: true})
	if err != nil {
		return nil, err
	}
	var out []ImageSummary
	for _, c := range cs {
		name, id := c.Labels[LabelImage], c.Labels[LabelImageID]
		row := ImageSummary{ContainerName: c.Name, Service: c.Service, ID: id}
		ref := id
		if ref == "" {
			ref = name
		}
		if img, err := e.images.Get(ctx, ref); err == nil {
			row.ID, row.Size, row.Created = img.ID, img.Size, img.Created
		}
		row.Repository, row.Tag = splitRepoTag(image.FamiliarName(name))
		out = append(out, row)
	}
	return out, nil
}

// splitRepoTag splits a familiar image name into repository and tag (or
// digest); an untagged name has no tag.
func splitRepoTag(name string) (string, string) {
	if repo, dig, ok := strings.Cut(name, "@"); ok {
		return repo, dig
	}
	if i := strings.LastIndexByte(name, ':'); i > strings.LastIndexByte(name, '/') {
		return name[:i], name[i+1:]
	}
	return name, ""
}

// RemoveImages is `berth image rm`: it removes each image name (or, by
// ID, the image), and reports the names it untagged. An image that a
// container of this root was made from is kept unless force.
func (e *Engine) RemoveImages(ctx context.Context, refs []string, force bool) ([]string, error) {
	inUse := e.imageInUse(ctx)
	var names []string
	for _, ref := range refs {
		n, err := e.images.Remove(ctx, ref, image.RemoveOptions{Force: force, InUse: inUse})
		names = append(names, n...)
		if err != nil {
			return names, err
		}
	}
	return names, nil
}

// PruneImages is `berth image prune`: it removes the unnamed images (with
// all, every image) that no container of this root was made from, and the
// snapshots no image and no container stacks. It reports what it deleted.
func (e *Engine) PruneImages(ctx context.Context, all bool) ([]string, error) {
	infos, err := e.runtime.List(ctx)
	if err != nil {
		return nil, err
	}
	used := map[string]bool{}
	for _, i := range infos {
		for _, l := range i.Spec.Layers {
			used[l] = true
		}
	}
	return e.images.Prune(ctx, image.PruneOptions{All: all, InUse: e.imageInUse(ctx), KeepSnapshot: func(dir string) bool { return used[dir] }})
}

// imageInUse reports whether a container of this root was made from the
// image with an ID; when the containers cannot be listed, every image is
// taken to be in use, so that nothing is removed on a guess.
func (e *Engine) imageInUse(ctx context.Context) func(id string) bool {
	infos, err := e.runtime.List(ctx)
	if err != nil {
		return func(string) bool { return true }
	}
	ids := map[string]bool{}
	for _, i := range infos {
		ids[i.Labels[LabelImageID]] = true
	}
	return func(id string) bool { return ids[id] }
}
