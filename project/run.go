package project

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"

	"github.com/berthdev/berth/runtime"
)

// RunOptions are `berth run`'s.
type RunOptions struct {
	Service      string
	Command      []string  // replaces the service's command when set
	Entrypoint   *[]string // replaces the entrypoint when set
	Env          []string
	User         string
	Workdir      string
	Name         string
	Labels       map[string]string
	Volumes      []string // extra short-syntax mounts
	Publish      []string // extra ports
	ServicePorts bool
	Remove       bool
	Detach       bool
	NoDeps       bool
	Tty          bool
	Interactive  bool
	Build        bool
	Pull         string
	Stdio        runtime.Stdio
	Events       Events
}

// Run runs a one-off container of a service, its dependencies started
// first, and returns the command's exit code. With Remove nothing of the
// one-off container remains afterwards, whatever happened.
func (e *Engine) Run(ctx context.Context, p *Project, opts RunOptions) (code int, err error) {
	if _, ok := p.Services[opts.Service]; !ok {
		return -1, fmt.Errorf("%w: %q (the project has %v)", ErrNoService, opts.Service, p.ServiceNames())
	}
	unlock, err := e.lock(ctx, p.Name)
	if err != nil {
		return -1, err
	}
	c, err := e.prepareOneoff(ctx, p, opts)
	unlock()
	if err != nil {
		return -1, err
	}
	if opts.Remove {
		defer func() {
			// A fresh context: the caller's may be cancelled (Ctrl-C),
			// and the container must go all the same.
			latest, ierr := e.Runtime.Inspect(context.Background(), c.ID)
			if ierr == nil {
				c.Info = latest
			}
			if rerr := e.removeContainer(context.Background(), c, nil, true, nil); rerr != nil && err == nil {
				err = rerr
			}
		}()
	}
	if opts.Detach {
		if err := e.startContainer(ctx, c, opts.Events); err != nil {
			return -1, err
		}
		return 0, e.refreshHosts(p.Name)
	}
	if err := e.beforeStart(ctx, c); err != nil {
		return -1, err
	}
	// Its peers see the one-off container while it runs.
	if err := e.refreshHosts(p.Name); err != nil {
		return -1, err
	}
	return e.Runtime.Run(ctx, c.ID, opts.Stdio)
}

func (e *Engine) prepareOneoff(ctx context.Context, p *Project, opts RunOptions) (container, error) {
	if !opts.NoDeps {
		deps, err := selectServices(p, []string{opts.Service}, true)
		if err != nil {
			return container{}, err
		}
		var others []string
		for _, d := range deps {
			if d != opts.Service {
				others = append(others, d)
			}
		}
		if len(others) > 0 {
			if err := e.up(ctx, p, UpOptions{Services: others, Pull: opts.Pull, Events: opts.Events}); err != nil {
				return container{}, err
			}
			if err := e.waitDependencies(ctx, p, opts.Service); err != nil {
				return container{}, err
			}
		}
	}
	if err := e.preflight(ctx, p, []string{opts.Service}); err != nil {
		return container{}, err
	}
	images, err := e.ensureImages(ctx, p, []string{opts.Service}, imageOptions{Build: opts.Build, Pull: opts.Pull, Events: opts.Events})
	if err != nil {
		return container{}, err
	}
	if err := e.ensureNetworks(ctx, p, []string{opts.Service}, opts.Events); err != nil {
		return container{}, err
	}
	if err := e.ensureVolumes(ctx, p, []string{opts.Service}, opts.Events); err != nil {
		return container{}, err
	}
	b := make([]byte, 6)
	rand.Read(b)
	name := opts.Name
	if name == "" {
		name = fmt.Sprintf("%s-%s-run-%s", p.Name, opts.Service, hex.EncodeToString(b))
	}
	return e.createOneoff(ctx, p, opts, images[opts.Service], name)
}
