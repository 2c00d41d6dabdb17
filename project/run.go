package project

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"github.com/berthdev/berth/internal/timing"
	"os"
	"path/filepath"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
)

// RunOptions are `berth run`'s.
type RunOptions struct {
	Service    string
	Command    []string  // replaces the service's command when set
	Entrypoint *[]string // replaces the entrypoint when set
	Env        []string
	User       string
	Workdir    string
	Name       string
	Labels     map[string]string
	// Volumes are extra mounts (run -v); a relative bind source is taken
	// from the project's directory.
	Volumes []types.ServiceVolumeConfig
	// Publish are extra published ports (run -p).
	Publish      []types.ServicePortConfig
	ServicePorts bool
	Remove       bool
	Detach       bool
	NoDeps       bool
	Tty          bool
	Interactive  bool
	Build        bool
	Pull         string
	Stdio        Stdio
	Events       Events
}

// Run runs a one-off container of a service, its dependencies started
// first, and returns the command's exit code. With Remove nothing of the
// one-off container remains afterwards, whatever happened.
func (e *Engine) Run(ctx context.Context, p *Project, opts RunOptions) (code int, err error) {
	if _, ok := p.Services[opts.Service]; !ok {
		return -1, fmt.Errorf("%w: %q (the project has %v)", ErrNoService, opts.Service, p.ServiceNames())
	}
	end := timing.Span("run: lock")
	unlock, err := e.lock(ctx, p.Name)
	end()
	if err != nil {
		return -1, err
	}
	end = timing.Span("run: prepare")
	c, err := e.prepareOneoff(ctx, p, opts)
	end()
	unlock()
	if err != nil {
		return -1, err
	}
	if opts.Remove {
		defer func() {
			// A fresh context: the caller's may be cancelled (Ctrl-C),
			// and the container must go all the same.
			defer timing.Span("run: remove")()
			latest, ierr := e.runtime.Inspect(context.Background(), c.ID)
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
	end = timing.Span("run: before start, hosts")
	if err := e.beforeStart(ctx, c); err != nil {
		return -1, err
	}
	// Its peers see the one-off container while it runs.
	if err := e.refreshHosts(p.Name); err != nil {
		return -1, err
	}
	end()
	defer timing.Span("run: container")()
	return e.runtime.Run(ctx, c.ID, opts.Stdio)
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
	end := timing.Span("prepare: preflight")
	defer func() { end() }()
	if err := e.preflight(ctx, p, []string{opts.Service}); err != nil {
		return container{}, err
	}
	end()
	end = timing.Span("prepare: images")
	images, err := e.ensureImages(ctx, p, []string{opts.Service}, imageOptions{Build: opts.Build, Pull: opts.Pull, Events: opts.Events})
	if err != nil {
		return container{}, err
	}
	end()
	end = timing.Span("prepare: networks")
	if err := e.ensureNetworks(ctx, p, []string{opts.Service}, opts.Events); err != nil {
		return container{}, err
	}
	end()
	end = timing.Span("prepare: volumes")
	if err := e.ensureVolumes(ctx, p, []string{opts.Service}, opts.Events); err != nil {
		return container{}, err
	}
	end()
	end = timing.Span("prepare: create")
	b := make([]byte, 6)
	rand.Read(b)
	name := opts.Name
	if name == "" {
		name = fmt.Sprintf("%s-%s-run-%s", p.Name, opts.Service, hex.EncodeToString(b))
	}
	return e.createOneoff(ctx, p, opts, images[opts.Service], name)
}

// createOneoff creates the container of `berth run`.
func (e *Engine) createOneoff(ctx context.Context, p *Project, opts RunOptions, img *serviceImage, name string) (container, error) {
	s := p.Services[opts.Service]
	if opts.Command != nil {
		s.Command = opts.Command
	}
	if opts.Entrypoint != nil {
		s.Entrypoint = *opts.Entrypoint
	}
	if opts.User != "" {
		s.User = opts.User
	}
	if opts.Workdir != "" {
		s.WorkingDir = opts.Workdir
	}
	s.Tty = opts.Tty
	s.StdinOpen = opts.Interactive
	if !opts.ServicePorts {
		s.Ports = nil
	}
	s.Ports = append(s.Ports, opts.Publish...)
	if s.Environment == nil {
		s.Environment = types.MappingWithEquals{}
	}
	for _, kv := range opts.Env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			val, set := os.LookupEnv(k)
			if !set {
				continue
			}
			v = val
		}
		s.Environment[k] = &v
	}
	for _, v := range opts.Volumes {
		if v.Type == types.VolumeTypeBind && !filepath.IsAbs(v.Source) {
			v.Source = filepath.Join(p.WorkingDir, v.Source)
		}
		s.Volumes = append(s.Volumes, v)
	}
	s.Restart = "no"
	if s.Deploy != nil {
		d := *s.Deploy
		d.RestartPolicy = nil
		s.Deploy = &d
	}
	// A one-off container is not the service's replica: no fixed name.
	s.ContainerName = ""
	endSpec := timing.Span("create: spec and network attach")
	spec, err := e.containerSpec(ctx, p, s, 1, name, img, nil, true)
	endSpec()
	if err != nil {
		return container{}, err
	}
	for k, v := range opts.Labels {
		spec.Labels[k] = v
	}
	spec.Labels[LabelNumber] = "1"
	info, err := e.runtime.Create(ctx, spec)
	if err != nil {
		e.detachNetwork(ctx, p.Name, spec.ID)
		e.releaseVolumes(spec.ID)
		return container{}, err
	}
	return container{Info: info, Service: opts.Service, Number: 1, Oneoff: true}, nil
}
