package kube

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
)

// mapped are the service fields the conversion carries over (where it
// carries a part only, it warns of the rest itself).
var mapped = map[string]bool{
	"annotations": true, "build": true, "cap_add": true, "cap_drop": true, "command": true,
	"configs": true, "cpus": true, "depends_on": true, "deploy": true, "dns": true, "dns_opt": true,
	"dns_search": true, "entrypoint": true, "env_file": true, "environment": true, "expose": true,
	"extra_hosts": true, "group_add": true, "healthcheck": true, "hostname": true, "image": true,
	"ipc": true, "labels": true, "links": true, "mem_limit": true, "mem_reservation": true,
	"network_mode": true, "networks": true, "pid": true, "platform": true, "ports": true,
	"privileged": true, "pull_policy": true, "read_only": true, "restart": true, "scale": true,
	"secrets": true, "shm_size": true, "stdin_open": true, "stop_grace_period": true,
	"sysctls": true, "tmpfs": true, "tty": true, "user": true, "volumes": true, "working_dir": true,
}

// localOnly are the fields that shape how berth runs a project on this
// machine, not what runs: loading has applied them (profiles, extends,
// label_file) or they steer the CLI (attach, develop's watch).
var localOnly = map[string]bool{
	"attach": true, "develop": true, "extends": true, "label_file": true, "profiles": true,
}

// unmapped warns of each field of the service that is set and neither
// mapped nor local-only, and of the parts of deploy and networks that
// are not mapped. It reads the service as compose-go writes it, so that
// a field compose gains later is reported too.
func (c *converter) unmapped(s types.ServiceConfig) error {
	fields, err := setFields(s)
	if err != nil {
		return err
	}
	for _, k := range fields {
		if !mapped[k] && !localOnly[k] && !strings.HasPrefix(k, "x-") {
			c.warn(s.Name, k, "has no Kubernetes equivalent; left out")
		}
	}
	if d := s.Deploy; d != nil {
		if d.Mode != "" && d.Mode != "replicated" {
			c.warn(s.Name, "deploy.mode", "%s: one pod per node would be a DaemonSet; it is a %s of %d replicas", d.Mode, c.kindOf(s.Name), s.GetScale())
		}
		keys, err := setFields(*d)
		if err != nil {
			return err
		}
		for _, k := range keys {
			switch k {
			case "mode", "replicas", "resources", "restart_policy":
			default:
				c.warn(s.Name, "deploy."+k, "swarm's; has no Kubernetes equivalent here; left out")
			}
		}
		if rp := d.RestartPolicy; rp != nil && (rp.Delay != nil || rp.Window != nil) {
			c.warn(s.Name, "deploy.restart_policy", "delay and window: Kubernetes restarts with its own back-off")
		}
	}
	for _, net := range sortedKeys(s.Networks) {
		cfg := s.Networks[net]
		if cfg == nil {
			continue
		}
		keys, err := setFields(*cfg)
		if err != nil {
			return err
		}
		for _, k := range keys {
			if k != "aliases" {
				c.warn(s.Name, "networks."+net+"."+k, "a pod's address and interface are the cluster's; left out")
			}
		}
	}
	return nil
}

// projectFields warns of the project's networks: Kubernetes has one
// network per namespace, where every pod reaches every other.
func (c *converter) projectFields() error {
	used := map[string]bool{}
	for _, n := range c.services {
		s := c.p.Services[n]
		if s.NetworkMode != "" && s.NetworkMode != "bridge" && s.NetworkMode != "default" {
			continue
		}
		for net := range s.Networks {
			used[net] = true
		}
		if len(s.Networks) == 0 {
			used["default"] = true
		}
	}
	names := sortedKeys(used)
	if len(names) > 1 {
		c.warn("", "networks", "%s: a namespace is one network, so services of different networks reach each other (no NetworkPolicy is written)", strings.Join(names, ", "))
	}
	for _, net := range names {
		cfg, ok := c.p.Networks[net]
		if !ok {
			continue
		}
		keys, err := setFields(cfg)
		if err != nil {
			return err
		}
		for _, k := range keys {
			switch k {
			case "name", "labels":
			default:
				c.warn("", "networks."+net+"."+k, "the cluster's network has no such setting; left out")
			}
		}
	}
	return nil
}

// setFields are the keys of v, as compose-go writes it to JSON, whose
// values are set (not null, zero, empty or false), sorted.
func setFields(v any) ([]string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("reading the compose model: %w", err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("reading the compose model: %w", err)
	}
	var out []string
	for k, val := range m {
		if val == nil {
			continue
		}
		rv := reflect.ValueOf(val)
		if rv.IsZero() || (rv.Kind() == reflect.Map || rv.Kind() == reflect.Slice) && rv.Len() == 0 {
			continue
		}
		out = append(out, k)
	}
	sort.Strings(out)
	return out, nil
}
