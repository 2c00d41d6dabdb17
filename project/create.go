package project

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/berthdev/berth/runtime"
	"github.com/berthdev/berth/runtime/image"
	"github.com/compose-spec/compose-go/v2/types"
	"golang.org/x/sys/unix"
)

// lock takes the project's lock file, <root>/projects/<name>/lock, so two
// verbs that change one project never interleave. It waits for the holder
// and gives up when ctx ends.
func (e *Engine) lock(ctx context.Context, name string) (func(), error) {
	dir := filepath.Join(e.Runtime.Root(), "projects", name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("locking project %s: %w", name, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("waiting for another berth command on project %s: %w", name, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

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

// imageName is the name a service's image has in the store: image:, or
// <project>-<service> for a build without one, as compose names it.
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
		img, err := e.Images.Get(ctx, ref)
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
			if e.Build == nil {
				return nil, fmt.Errorf("service %q: building images is not available", name)
			}
			opts.Events.emit("Image "+ref, "Building")
			if img, err = e.Build(ctx, p, s, ref); err != nil {
				opts.Events.emit("Image "+ref, "Error: "+err.Error())
				return nil, fmt.Errorf("service %q: building %s: %w", name, ref, err)
			}
			opts.Events.emit("Image "+ref, "Built")
		case pull:
			opts.Events.emit("Image "+ref, "Pulling")
			if img, err = e.Images.Pull(ctx, ref, image.PullOptions{Config: e.RegistryConfig}); err != nil {
				opts.Events.emit("Image "+ref, "Error")
				return nil, fmt.Errorf("service %q: %w", name, err)
			}
			opts.Events.emit("Image "+ref, "Pulled")
		case missing:
			return nil, fmt.Errorf("service %q: image %s is not in the store and pull_policy is never: %w", name, ref, image.ErrNotFound)
		}
		layers, err := e.Images.Snapshots(ctx, img)
		if err != nil {
			return nil, err
		}
		out[name] = &serviceImage{Image: img, Layers: layers}
	}
	return out, nil
}

// preflight checks, before anything is created, what can fail on this
// host: the host ports the services publish.
func (e *Engine) preflight(ctx context.Context, p *Project, services []string) error {
	return e.checkPorts(ctx, p, services)
}

// plan computes up's plan for the selected services.
func (e *Engine) plan(p *Project, selected []string, images map[string]*serviceImage, observed []container, opts UpOptions) upPlan {
	want := map[string]planInput{}
	for _, name := range selected {
		s := p.Services[name]
		scale := s.GetScale()
		if n, ok := opts.Scale[name]; ok {
			scale = n
		}
		hash, _ := ConfigHash(s)
		in := planInput{Scale: scale, Hash: hash}
		if img := images[name]; img != nil {
			in.ImageID = img.Image.ID
		}
		want[name] = in
	}
	all := map[string]bool{}
	for _, n := range p.ServiceNames() {
		all[n] = true
	}
	return reconcile(want, all, observed, reconcileOptions{ForceRecreate: opts.ForceRecreate, NoRecreate: opts.NoRecreate})
}

func newContainerID() string {
	b := make([]byte, 32)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// containerSpec builds the full Spec of a container of service s:
// configuration, labels, mounts and networking.
func (e *Engine) containerSpec(ctx context.Context, p *Project, s types.ServiceConfig, n int, name string, img *serviceImage, old *container, oneoff bool) (runtime.Spec, error) {
	var cfg = img.Image.Config.Config
	spec, err := ServiceSpec(p, s, cfg)
	if err != nil {
		return spec, err
	}
	spec.ID = newContainerID()
	spec.Name = name
	spec.Image = image.FamiliarName(img.Image.Name)
	spec.Layers = img.Layers
	hash, _ := ConfigHash(s)
	deps, _ := json.Marshal(dependencies(p, s.Name))
	spec.Labels = map[string]string{
		LabelProject:    p.Name,
		LabelService:    s.Name,
		LabelNumber:     strconv.Itoa(n),
		LabelOneoff:     "False",
		LabelConfigHash: hash,
		LabelImage:      img.Image.Name,
		LabelImageID:    img.Image.ID,
		LabelWorkingDir: p.WorkingDir,
		LabelFiles:      strings.Join(p.ComposeFiles, ","),
		LabelDependsOn:  string(deps),
	}
	if oneoff {
		spec.Labels[LabelOneoff] = "True"
	}
	for k, v := range s.Labels {
		spec.Labels[k] = v
	}
	if spec.Hostname == "" && s.NetworkMode == "" {
		spec.Hostname = shortContainerID(spec.ID)
	}
	if err := e.attachVolumes(ctx, p, s, &spec, img, old); err != nil {
		return spec, err
	}
	if err := e.attachNetwork(ctx, p, s, &spec); err != nil {
		e.releaseVolumes(spec.ID)
		return spec, err
	}
	return spec, nil
}

func shortContainerID(id string) string { return id[:12] }

// createContainer creates replica n of a service (replacing old's
// anonymous volumes into it when old is set).
func (e *Engine) createContainer(ctx context.Context, p *Project, service string, n int, img *serviceImage, old *container, opts UpOptions) (container, error) {
	s := p.Services[service]
	name := ContainerName(p, s, n)
	if old != nil && old.Name == name {
		// The new container takes the old one's name; the old one is
		// renamed out of the way until it is removed.
		name = name + "-new-" + shortContainerID(newContainerID())
	}
	if opts.RenewAnonVolumes {
		old = nil
	}
	spec, err := e.containerSpec(ctx, p, s, n, name, img, old, false)
	if err != nil {
		return container{}, fmt.Errorf("service %q: %w", service, err)
	}
	opts.Events.emit(containerResource(ContainerName(p, s, n)), "Creating")
	info, err := e.Runtime.Create(ctx, spec)
	if err != nil {
		e.detachNetwork(ctx, p.Name, spec.ID)
		e.releaseVolumes(spec.ID)
		return container{}, fmt.Errorf("service %q: %w", service, err)
	}
	return container{Info: info, Service: service, Number: n}, nil
}

// finishRecreate gives the new container its final name once the old one
// is gone.
func (e *Engine) finishRecreate(ctx context.Context, p *Project, c container) (container, error) {
	want := ContainerName(p, p.Services[c.Service], c.Number)
	if c.Name == want {
		return c, nil
	}
	if err := e.Runtime.Rename(ctx, c.ID, want); err != nil {
		return c, err
	}
	info, err := e.Runtime.Inspect(ctx, c.ID)
	if err != nil {
		return c, err
	}
	c.Info = info
	return c, nil
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
	if len(opts.Publish) > 0 {
		ports, err := types.ParsePortConfig(strings.Join(opts.Publish, ","))
		if err == nil {
			s.Ports = append(s.Ports, ports...)
		} else {
			for _, pub := range opts.Publish {
				pc, err := types.ParsePortConfig(pub)
				if err != nil {
					return container{}, fmt.Errorf("-p %q: %w", pub, err)
				}
				s.Ports = append(s.Ports, pc...)
			}
		}
	}
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
		vc, err := parseVolumeFlag(p, v)
		if err != nil {
			return container{}, err
		}
		s.Volumes = append(s.Volumes, vc)
	}
	s.Restart = "no"
	if s.Deploy != nil {
		d := *s.Deploy
		d.RestartPolicy = nil
		s.Deploy = &d
	}
	// A one-off container is not the service's replica: no fixed name.
	s.ContainerName = ""
	spec, err := e.containerSpec(ctx, p, s, 1, name, img, nil, true)
	if err != nil {
		return container{}, err
	}
	for k, v := range opts.Labels {
		spec.Labels[k] = v
	}
	spec.Labels[LabelNumber] = "1"
	info, err := e.Runtime.Create(ctx, spec)
	if err != nil {
		e.detachNetwork(ctx, p.Name, spec.ID)
		e.releaseVolumes(spec.ID)
		return container{}, err
	}
	return container{Info: info, Service: opts.Service, Number: 1, Oneoff: true}, nil
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
		if _, err := e.Images.Remove(ctx, ref, image.RemoveOptions{}); err != nil && !errors.Is(err, image.ErrNotFound) {
			errs = append(errs, err)
			continue
		}
		ev.emit("Image "+ref, "Removed")
	}
	return errors.Join(errs...)
}
