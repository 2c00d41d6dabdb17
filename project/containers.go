package project

import (
	"context"
	"fmt"
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

// statusText renders a container's state as `docker compose ps` does.
func statusText(c container) string {
	switch c.Status {
	case runtime.StatusExited:
		s := fmt.Sprintf("Exited (%d)", c.ExitCode)
		if c.ExitCode < 0 {
			s = "Exited (unknown)"
		}
		return s
	case runtime.StatusRunning:
		s := "Up"
		if c.Health != "" {
			s += " (" + c.Health + ")"
		}
		if !c.MonitorAlive {
			s += " (monitor lost)"
		}
		return s
	case runtime.StatusPaused:
		return "Up (Paused)"
	case runtime.StatusRestarting:
		return "Restarting"
	}
	return strings.ToUpper(string(c.Status[:1])) + string(c.Status[1:])
}
