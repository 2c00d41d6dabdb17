package project

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"

	"github.com/berthdev/berth/runtime"
)

// Compose's label keys, so that `ps` and the reconciler can read back what
// a container belongs to.
const (
	LabelProject    = "com.docker.compose.project"
	LabelService    = "com.docker.compose.service"
	LabelNumber     = "com.docker.compose.container-number"
	LabelOneoff     = "com.docker.compose.oneoff"
	LabelConfigHash = "com.docker.compose.config-hash"
	LabelImage      = "com.docker.compose.image"
	LabelWorkingDir = "com.docker.compose.project.working_dir"
	LabelFiles      = "com.docker.compose.project.config_files"
	LabelDependsOn  = "com.docker.compose.depends_on"
)

// LabelImageID records the ID of the image a container was made from, so a
// changed image recreates it and the image store keeps images in use.
const LabelImageID = "berth.image.id"

// container is one container of a project as the runtime reports it.
type container struct {
	runtime.Info
	Service string
	Number  int
	Oneoff  bool
}

func (c container) running() bool {
	return c.Status == runtime.StatusRunning || c.Status == runtime.StatusPaused || c.Status == runtime.StatusRestarting
}

// projectContainers lists the containers labelled with the project, by
// service then number; one-off containers only when oneoff.
func projectContainers(ctx context.Context, rt *runtime.Runtime, name string, oneoff bool) ([]container, error) {
	infos, err := rt.List(ctx)
	if err != nil {
		return nil, err
	}
	var out []container
	for _, i := range infos {
		if i.Labels[LabelProject] != name {
			continue
		}
		c := container{Info: i, Service: i.Labels[LabelService], Oneoff: i.Labels[LabelOneoff] == "True"}
		c.Number, _ = strconv.Atoi(i.Labels[LabelNumber])
		if c.Oneoff && !oneoff {
			continue
		}
		out = append(out, c)
	}
	sort.Slice(out, func(a, b int) bool {
		if out[a].Service != out[b].Service {
			return out[a].Service < out[b].Service
		}
		if out[a].Oneoff != out[b].Oneoff {
			return !out[a].Oneoff
		}
		if out[a].Number != out[b].Number {
			return out[a].Number < out[b].Number
		}
		return out[a].Name < out[b].Name
	})
	return out, nil
}

// filterServices keeps the containers of the named services (all when
// none are named).
func filterServices(cs []container, services []string) []container {
	if len(services) == 0 {
		return cs
	}
	want := map[string]bool{}
	for _, s := range services {
		want[s] = true
	}
	var out []container
	for _, c := range cs {
		if want[c.Service] {
			out = append(out, c)
		}
	}
	return out
}

func newContainerID() string {
	b := make([]byte, 32)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func shortContainerID(id string) string { return id[:12] }

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
