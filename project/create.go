package project

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/berthdev/berth/internal/failpoint"
	"github.com/berthdev/berth/runtime"
	"github.com/berthdev/berth/runtime/image"
	"github.com/compose-spec/compose-go/v2/types"
)

// preflight checks, before anything is created, what can fail on this
// host: the files and CPUs the services need, and the host ports they
// publish.
func (e *Engine) preflight(ctx context.Context, p *Project, services []string) error {
	if err := checkHost(p, services); err != nil {
		return err
	}
	return e.checkPorts(ctx, p, services)
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
	// One keeper watches all of the project's detached containers.
	spec.Keeper = p.Name
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
	// Its network namespace, volume references and anonymous volumes
	// exist, the container does not yet.
	failpoint.Kill("create-before-container")
	info, err := e.runtime.Create(ctx, spec)
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
	if err := e.runtime.Rename(ctx, c.ID, want); err != nil {
		return c, err
	}
	info, err := e.runtime.Inspect(ctx, c.ID)
	if err != nil {
		return c, err
	}
	c.Info = info
	return c, nil
}
