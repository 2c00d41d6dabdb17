package project

import (
	"context"
	"fmt"

	"github.com/berthdev/berth/runtime"
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
		if len(opts.Status) > 0 && !contains(opts.Status, string(c.Status)) {
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

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
