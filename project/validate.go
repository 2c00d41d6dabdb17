package project

import (
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/berthdev/berth/runtime"
	"github.com/compose-spec/compose-go/v2/types"
	units "github.com/docker/go-units"
)

// ValidationError is one problem in a compose file, found before anything
// starts. Its message names the file, the service and the field, and says
// what is accepted.
type ValidationError struct {
	File    string
	Service string
	Field   string
	Msg     string
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File + ": ")
	}
	if e.Service != "" {
		fmt.Fprintf(&b, "service %q: ", e.Service)
	}
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// unsupported lists service keys berth does not implement yet: they are
// reported, never silently ignored.
var unsupported = map[string]func(s types.ServiceConfig) bool{
	"devices":       func(s types.ServiceConfig) bool { return len(s.Devices) > 0 },
	"gpus":          func(s types.ServiceConfig) bool { return len(s.Gpus) > 0 },
	"runtime":       func(s types.ServiceConfig) bool { return s.Runtime != "" },
	"isolation":     func(s types.ServiceConfig) bool { return s.Isolation != "" },
	"userns_mode":   func(s types.ServiceConfig) bool { return s.UserNSMode != "" },
	"cgroup_parent": func(s types.ServiceConfig) bool { return s.CgroupParent != "" },
	"logging.driver": func(s types.ServiceConfig) bool {
		return s.Logging != nil && s.Logging.Driver != "" && s.Logging.Driver != "json-file" && s.Logging.Driver != "local"
	},
	"provider":        func(s types.ServiceConfig) bool { return s.Provider != nil },
	"models":          func(s types.ServiceConfig) bool { return len(s.Models) > 0 },
	"pre_stop":        func(s types.ServiceConfig) bool { return len(s.PreStop) > 0 },
	"post_start":      func(s types.ServiceConfig) bool { return len(s.PostStart) > 0 },
	"credential_spec": func(s types.ServiceConfig) bool { return s.CredentialSpec != nil },
	"volumes[].type=npipe/cluster/image": func(s types.ServiceConfig) bool {
		for _, v := range s.Volumes {
			if v.Type == types.VolumeTypeNamedPipe || v.Type == "cluster" || v.Type == types.VolumeTypeImage {
				return true
			}
		}
		return false
	},
}

// ignoredKeys are keys that docker compose, too, does not apply to a
// container: swarm's, and storage_opt, which needs a storage driver with
// quotas. Many compose files in the wild carry them for swarm, so they are
// reported once and the file is run without them.
var ignoredKeys = []struct {
	key, why string
	has      func(s types.ServiceConfig) bool
}{
	{"deploy.placement", "only used by swarm", func(s types.ServiceConfig) bool {
		pl := s.Deploy.Placement
		return len(pl.Constraints) > 0 || len(pl.Preferences) > 0 || pl.MaxReplicas > 0
	}},
	{"deploy.update_config", "only used by swarm", func(s types.ServiceConfig) bool { return s.Deploy.UpdateConfig != nil }},
	{"deploy.rollback_config", "only used by swarm", func(s types.ServiceConfig) bool { return s.Deploy.RollbackConfig != nil }},
	{"deploy.endpoint_mode", "only used by swarm", func(s types.ServiceConfig) bool { return s.Deploy.EndpointMode != "" }},
	{"deploy.labels", "only used by swarm (labels: applies to containers)", func(s types.ServiceConfig) bool { return len(s.Deploy.Labels) > 0 }},
	{"deploy.mode", "only used by swarm", func(s types.ServiceConfig) bool { return s.Deploy.Mode != "" && s.Deploy.Mode != "replicated" }},
	{"storage_opt", "berth's overlay snapshots have no per-container size quota", func(s types.ServiceConfig) bool { return len(s.StorageOpt) > 0 }},
}

// Ignored lists, once per key, the keys of the project that berth does not
// apply and why, naming the services that have them.
func Ignored(p *Project) []string {
	names := p.ServiceNames()
	sort.Strings(names)
	var out []string
	for _, k := range ignoredKeys {
		var with []string
		for _, n := range names {
			s := p.Services[n]
			if k.key == "storage_opt" || s.Deploy != nil {
				if k.has(s) {
					with = append(with, n)
				}
			}
		}
		if len(with) > 0 {
			out = append(out, fmt.Sprintf("%s (services %s): ignored: %s", k.key, strings.Join(with, ", "), k.why))
		}
	}
	return out
}

var validRestart = map[string]bool{"": true, "no": true, "always": true, "on-failure": true, "unless-stopped": true}

// Validate checks what compose-go's schema does not: berth's own limits,
// references between services, and dependency cycles. All problems are
// returned together.
func Validate(p *Project) error {
	var pr problems
	add := pr.collector(p)
	names := p.ServiceNames()
	sort.Strings(names)
	for _, name := range names {
		s := p.Services[name]
		keys := slices.Sorted(maps.Keys(unsupported))
		for _, k := range keys {
			if unsupported[k](s) {
				add(name, k, "%v", ErrUnsupported)
			}
		}
		if s.Image == "" && s.Build == nil {
			add(name, "image", "a service needs an image or a build section")
		}
		policy, _, _ := strings.Cut(s.Restart, ":")
		if !validRestart[policy] {
			add(name, "restart", "%q is not one of no, always, on-failure[:N], unless-stopped", s.Restart)
		}
		if s.Logging != nil {
			if v, ok := s.Logging.Options["max-size"]; ok {
				if b, err := units.RAMInBytes(v); err != nil || b <= 0 {
					add(name, "logging.options.max-size", "%q is not a size such as 10m", v)
				}
			}
			if v, ok := s.Logging.Options["max-file"]; ok {
				if n, err := strconv.Atoi(v); err != nil || n < 1 {
					add(name, "logging.options.max-file", "%q is not a number of files of 1 or more", v)
				}
			}
		}
		if s.StopSignal != "" {
			if _, err := runtime.ParseSignal(s.StopSignal); err != nil {
				add(name, "stop_signal", "%q is not a signal name or number", s.StopSignal)
			}
		}
		checkService(p, s, add)
		readSecurityOpts(p, s, func(field, msg string) { add(name, field, "%s", msg) })
		for dep := range s.DependsOn {
			if _, ok := p.Services[dep]; !ok && s.DependsOn[dep].Required {
				if !slices.Contains(p.DisabledServiceNames(), dep) {
					add(name, "depends_on", "%q is not a service of this project", dep)
				}
			}
		}
		for i, v := range s.VolumesFrom {
			target, _, _ := strings.Cut(v, ":")
			if target == "container" {
				continue
			}
			if _, ok := p.Services[target]; !ok {
				add(name, fmt.Sprintf("volumes_from[%d]", i), "%q is not a service of this project (use container:NAME for a container)", v)
			}
		}
		for field, mode := range map[string]string{"network_mode": s.NetworkMode, "pid": s.Pid, "ipc": s.Ipc} {
			if t, ok := strings.CutPrefix(mode, "service:"); ok {
				if _, ok := p.Services[t]; !ok {
					add(name, field, "%q names no service of this project", mode)
				}
			}
		}
		for key := range s.Networks {
			if _, ok := p.Networks[key]; !ok {
				add(name, "networks."+key, "network %q is not declared under the top-level networks:", key)
			}
		}
		for i, v := range s.Volumes {
			if v.Type == types.VolumeTypeVolume && v.Source != "" {
				if _, ok := p.Volumes[v.Source]; !ok {
					add(name, fmt.Sprintf("volumes[%d]", i), "volume %q is not declared under the top-level volumes:", v.Source)
				}
			}
		}
		for i, r := range s.Secrets {
			if _, ok := p.Secrets[r.Source]; !ok {
				add(name, fmt.Sprintf("secrets[%d]", i), "secret %q is not declared under the top-level secrets:", r.Source)
			}
		}
		for i, r := range s.Configs {
			if _, ok := p.Configs[r.Source]; !ok {
				add(name, fmt.Sprintf("configs[%d]", i), "config %q is not declared under the top-level configs:", r.Source)
			}
		}
		for i, l := range s.Links {
			target, _, _ := strings.Cut(l, ":")
			if _, ok := p.Services[target]; !ok {
				add(name, fmt.Sprintf("links[%d]", i), "%q is not a service of this project", l)
			}
		}
		for i, port := range s.Ports {
			if port.Mode == "ingress" || port.Mode == "" || port.Mode == "host" {
				continue
			}
			add(name, fmt.Sprintf("ports[%d].mode", i), "%q is not host or ingress", port.Mode)
		}
		for k, u := range s.Ulimits {
			if u.Single == 0 && u.Soft == 0 && u.Hard == 0 {
				continue
			}
			if u.Single == 0 && u.Soft > u.Hard {
				add(name, "ulimits."+k, "soft limit %d is above hard limit %d", u.Soft, u.Hard)
			}
		}
	}
	checkProjectLimits(p, add)
	if cycle := findCycle(p); cycle != nil {
		add("", "depends_on", "dependency cycle: %s", strings.Join(cycle, " -> "))
	}
	return pr.err()
}

// problems collects the ValidationErrors found in a project, each naming
// the project's first compose file.
type problems struct{ errs []error }

// collector returns the function that records one problem.
func (pr *problems) collector(p *Project) func(service, field, format string, args ...any) {
	file := ""
	if len(p.ComposeFiles) > 0 {
		file = filepath.Base(p.ComposeFiles[0])
	}
	return func(service, field, format string, args ...any) {
		pr.errs = append(pr.errs, &ValidationError{File: file, Service: service, Field: field, Msg: fmt.Sprintf(format, args...)})
	}
}

// err is every problem found, joined, or nil.
func (pr *problems) err() error { return errors.Join(pr.errs...) }
