package project

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

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

// runningStates are the states of a container that has its process;
// stoppedStates the others.
var (
	runningStates = []runtime.Status{runtime.StatusRunning, runtime.StatusPaused, runtime.StatusRestarting}
	stoppedStates = []runtime.Status{runtime.StatusCreated, runtime.StatusExited, runtime.StatusDead}
)

func (c container) running() bool { return slices.Contains(runningStates, c.Status) }

// containerQuery selects some of a project's containers.
type containerQuery struct {
	// Services keeps the containers of these services; all when empty.
	Services []string
	// Oneoff takes berth run's one-off containers in too.
	Oneoff bool
	// Number keeps the replica with this number; all when 0.
	Number int
	// States keeps the containers in one of these states; all when empty.
	States []runtime.Status
}

// containers observes the project's containers that q selects, as the
// runtime reports them now: by service, then the service's replicas
// before its one-off containers, then by number and name. It is how every
// verb finds the containers it acts on.
func (e *Engine) containers(ctx context.Context, project string, q containerQuery) ([]container, error) {
	infos, err := e.runtime.List(ctx)
	if err != nil {
		return nil, err
	}
	var out []container
	for _, i := range infos {
		if i.Labels[LabelProject] != project {
			continue
		}
		c := container{Info: i, Service: i.Labels[LabelService], Oneoff: i.Labels[LabelOneoff] == "True"}
		c.Number, _ = strconv.Atoi(i.Labels[LabelNumber])
		switch {
		case c.Oneoff && !q.Oneoff:
		case len(q.Services) > 0 && !slices.Contains(q.Services, c.Service):
		case q.Number > 0 && c.Number != q.Number:
		case len(q.States) > 0 && !slices.Contains(q.States, c.Status):
		default:
			out = append(out, c)
		}
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

// newContainerID draws a container ID. Its first 12 digits are the
// container's default host name, and a host name of digits alone is not
// looked up: the C library takes it for a malformed address and says
// "Unknown host" without reading /etc/hosts (`hostname -i` failed in 1
// container of 280). Such an ID is drawn again, as Docker's are.
func newContainerID() string {
	b := make([]byte, 32)
	for {
		rand.Read(b)
		id := hex.EncodeToString(b)
		if strings.ContainsFunc(shortContainerID(id), func(r rune) bool { return r > '9' }) {
			return id
		}
	}
}

func shortContainerID(id string) string { return id[:12] }

// serviceContainer finds replica index (1 when 0) of a service.
func (e *Engine) serviceContainer(ctx context.Context, p *Project, service string, index int) (container, error) {
	if index <= 0 {
		index = 1
	}
	cs, err := e.containers(ctx, p.Name, containerQuery{Services: []string{service}})
	if err != nil {
		return container{}, err
	}
	for _, c := range cs {
		if c.Number == index {
			return c, nil
		}
	}
	if len(cs) > 0 {
		return container{}, fmt.Errorf("%w: service %q has no container number %d", ErrNoContainers, service, index)
	}
	if _, ok := p.Services[service]; !ok {
		return container{}, fmt.Errorf("%w: %q", ErrNoService, service)
	}
	return container{}, fmt.Errorf("%w: service %q has no container; run `berth up` first", ErrNoContainers, service)
}
