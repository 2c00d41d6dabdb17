package project

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/berthdev/berth/runtime"
	"github.com/berthdev/berth/runtime/image"
)

// ExecOptions are `berth exec`'s.
type ExecOptions struct {
	Service    string
	Index      int // replica number; 0 means 1
	Command    []string
	Env        []string
	User       string
	Workdir    string
	Tty        bool
	Privileged bool
	Detach     bool
	Stdio      runtime.Stdio
}

// Exec runs a command in a running container of a service and returns its
// exit code.
func (e *Engine) Exec(ctx context.Context, p *Project, opts ExecOptions) (int, error) {
	c, err := e.serviceContainer(ctx, p, opts.Service, opts.Index)
	if err != nil {
		return -1, err
	}
	if c.Status != runtime.StatusRunning {
		return -1, fmt.Errorf("%w: %s is %s", runtime.ErrNotRunning, c.Name, c.Status)
	}
	return e.Runtime.Exec(ctx, c.ID, runtime.ExecSpec{
		Args: opts.Command, Env: opts.Env, User: opts.User, Cwd: opts.Workdir,
		Tty: opts.Tty, Privileged: opts.Privileged, Detach: opts.Detach,
	}, opts.Stdio)
}

// serviceContainer finds replica index (1 when 0) of a service.
func (e *Engine) serviceContainer(ctx context.Context, p *Project, service string, index int) (container, error) {
	if index <= 0 {
		index = 1
	}
	cs, err := projectContainers(ctx, e.Runtime, p.Name, false)
	if err != nil {
		return container{}, err
	}
	found := false
	for _, c := range cs {
		if c.Service != service {
			continue
		}
		found = true
		if c.Number == index {
			return c, nil
		}
	}
	if found {
		return container{}, fmt.Errorf("%w: service %q has no container number %d", ErrNoContainers, service, index)
	}
	if _, ok := p.Services[service]; !ok {
		return container{}, fmt.Errorf("%w: %q", ErrNoService, service)
	}
	return container{}, fmt.Errorf("%w: service %q has no container; run `berth up` first", ErrNoContainers, service)
}

// Summary is one line of `berth ps`.
type Summary struct {
	ID         string `json:"ID"`
	Name       string `json:"Name"`
	Service    string `json:"Service"`
	Image      string `json:"Image"`
	Command    string `json:"Command"`
	Project    string `json:"Project"`
	State      string `json:"State"`
	Status     string `json:"Status"`
	Health     string `json:"Health"`
	ExitCode   int    `json:"ExitCode"`
	Created    int64  `json:"CreatedAt"`
	Publishers []Port `json:"Publishers"`
	Ports      string `json:"Ports"`
	Number     int    `json:"-"`
}

// Port is one published port of a container.
type Port struct {
	URL           string `json:"URL"`
	TargetPort    int    `json:"TargetPort"`
	PublishedPort int    `json:"PublishedPort"`
	Protocol      string `json:"Protocol"`
}

// PsOptions are `berth ps`'s.
type PsOptions struct {
	Services []string
	All      bool     // stopped containers too
	Status   []string // filter by state
}

// Ps lists the project's containers.
func (e *Engine) Ps(ctx context.Context, p *Project, opts PsOptions) ([]Summary, error) {
	cs, err := projectContainers(ctx, e.Runtime, p.Name, opts.All)
	if err != nil {
		return nil, err
	}
	cs = filterServices(cs, opts.Services)
	var out []Summary
	for _, c := range cs {
		if !opts.All && !c.running() && len(opts.Status) == 0 {
			continue
		}
		if len(opts.Status) > 0 && !slices.Contains(opts.Status, string(c.Status)) {
			continue
		}
		s := Summary{
			ID: c.ID, Name: c.Name, Service: c.Service, Image: c.Image, Project: p.Name,
			Command: quoteCommand(c.Spec.Args), State: string(c.Status), Status: statusText(c),
			Health: c.Health, ExitCode: c.ExitCode, Created: c.Created.Unix(), Number: c.Number,
		}
		s.Publishers = e.publishedPorts(c)
		s.Ports = portsText(s.Publishers)
		out = append(out, s)
	}
	return out, nil
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
	cs, err := projectContainers(ctx, e.Runtime, p.Name, true)
	if err != nil {
		return nil, err
	}
	var out []ImageSummary
	for _, c := range filterServices(cs, services) {
		name, id := c.Labels[LabelImage], c.Labels[LabelImageID]
		row := ImageSummary{ContainerName: c.Name, Service: c.Service, ID: id}
		ref := id
		if ref == "" {
			ref = name
		}
		if img, err := e.Images.Get(ctx, ref); err == nil {
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
