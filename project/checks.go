package project

import (
	"fmt"
	"maps"
	"net/netip"
	"os"
	goruntime "runtime"
	"slices"
	"sort"
	"strings"

	"github.com/berthdev/berth/runtime"
	"github.com/compose-spec/compose-go/v2/types"
)

// maxProjectName is the longest project name berth accepts. The kernel
// limits nftables chain names, and the file system file names, to 255
// bytes; a project's chains are named p-<root tag>-<project>-<kind> and its
// volumes <project>_<name>, so the name must leave room for berth's parts.
const maxProjectName = 200

// checkProjectLimits reports a project name the kernel's names cannot hold.
func checkProjectLimits(p *Project, add func(service, field, format string, args ...any)) {
	if n := len(p.Name); n > maxProjectName {
		add("", "name", "project name is %d characters long; berth allows at most %d, as the kernel's nftables chain names and file names (255 bytes) must hold it with berth's prefixes", n, maxProjectName)
	}
	for key := range p.Volumes {
		if name := volumeName(p, key); len(name) > 255 {
			add("", "volumes."+key, "volume name %q is %d characters long; the file system allows 255", name, len(name))
		}
	}
}

// checkService is Validate's part for what compose-go's schema accepts and
// docker compose refuses: self-dependencies, unknown capabilities, relative
// mount targets, negative replica counts and static addresses outside the
// network's subnet.
func checkService(p *Project, s types.ServiceConfig, add func(service, field, format string, args ...any)) {
	name := s.Name
	for _, d := range selfReferences(s) {
		add(name, d, "dependency cycle: %s -> %s (a service cannot depend on itself)", name, name)
	}
	for field, caps := range map[string][]string{"cap_add": s.CapAdd, "cap_drop": s.CapDrop} {
		for i, c := range caps {
			if !runtime.KnownCapability(c) {
				add(name, fmt.Sprintf("%s[%d]", field, i), "%q is not a Linux capability (such as NET_ADMIN or CAP_SYS_PTRACE)", c)
			}
		}
	}
	for i, v := range s.Volumes {
		if v.Target != "" && !strings.HasPrefix(v.Target, "/") {
			add(name, fmt.Sprintf("volumes[%d].target", i), "%q is not an absolute path in the container", v.Target)
		}
	}
	for i, t := range s.Tmpfs {
		target, _, _ := strings.Cut(t, ":")
		if !strings.HasPrefix(target, "/") {
			add(name, fmt.Sprintf("tmpfs[%d]", i), "%q is not an absolute path in the container", target)
		}
	}
	if s.Scale != nil && *s.Scale < 0 {
		add(name, "scale", "%d is negative", *s.Scale)
	}
	if s.Deploy != nil && s.Deploy.Replicas != nil && *s.Deploy.Replicas < 0 {
		add(name, "deploy.replicas", "%d is negative", *s.Deploy.Replicas)
	}
	if s.CPUS < 0 {
		add(name, "cpus", "%v is negative", s.CPUS)
	}
	keys := slices.Sorted(maps.Keys(s.Networks))
	for _, key := range keys {
		c := s.Networks[key]
		if c == nil || c.Ipv4Address == "" {
			continue
		}
		field := "networks." + key + ".ipv4_address"
		addr, err := netip.ParseAddr(c.Ipv4Address)
		if err != nil || !addr.Is4() {
			add(name, field, "%q is not an IPv4 address", c.Ipv4Address)
			continue
		}
		n, ok := p.Networks[key]
		if !ok {
			continue // reported as an undeclared network
		}
		var subnets []netip.Prefix
		for _, pool := range n.Ipam.Config {
			if pool == nil {
				continue
			}
			if pfx, err := netip.ParsePrefix(pool.Subnet); err == nil {
				subnets = append(subnets, pfx.Masked())
			}
		}
		if len(subnets) == 0 {
			add(name, field, "a static address needs a network with a subnet of its own (networks.%s.ipam.config[].subnet), as in docker compose", key)
			continue
		}
		inside := false
		for _, pfx := range subnets {
			inside = inside || pfx.Contains(addr)
		}
		if !inside {
			add(name, field, "%s is outside the subnet of network %q (%v)", addr, key, subnets)
		}
	}
}

// selfReferences lists the fields in which a service names itself as a
// dependency; such a service would wait for itself forever.
func selfReferences(s types.ServiceConfig) []string {
	var out []string
	if _, ok := s.DependsOn[s.Name]; ok {
		out = append(out, "depends_on")
	}
	for i, l := range s.Links {
		if target, _, _ := strings.Cut(l, ":"); target == s.Name {
			out = append(out, fmt.Sprintf("links[%d]", i))
		}
	}
	for i, v := range s.VolumesFrom {
		if target, _, _ := strings.Cut(v, ":"); target == s.Name {
			out = append(out, fmt.Sprintf("volumes_from[%d]", i))
		}
	}
	for field, mode := range map[string]string{"network_mode": s.NetworkMode, "pid": s.Pid, "ipc": s.Ipc} {
		if t, ok := strings.CutPrefix(mode, "service:"); ok && t == s.Name {
			out = append(out, field)
		}
	}
	sort.Strings(out)
	return out
}

// checkHost checks, before anything is created, what depends on this host
// rather than on the file: the files secrets, configs and seccomp
// profiles are read from, bind sources that must exist, and CPU limits
// beyond the host's CPUs.
// down and the other verbs that only remove never run it, so a deleted
// secret file does not keep a stack from being taken down.
func checkHost(p *Project, services []string) error {
	var pr problems
	add := pr.collector(p)
	cpus := goruntime.NumCPU()
	usedSecrets, usedConfigs := map[string]string{}, map[string]string{}
	for _, name := range services {
		s, ok := p.Services[name]
		if !ok {
			continue
		}
		for _, r := range s.Secrets {
			usedSecrets[r.Source] = name
		}
		for _, r := range s.Configs {
			usedConfigs[r.Source] = name
		}
		sec := readSecurityOpts(p, s, func(string, string) {}) // Validate reported those
		if msg := checkSeccompFile(sec); msg != "" {
			add(name, sec.SeccompField, "%s", msg)
		}
		for i, v := range s.Volumes {
			// The short syntax creates a missing source (compose-go sets
			// create_host_path); the long one does not, as in Docker.
			if v.Type != types.VolumeTypeBind || (v.Bind != nil && bool(v.Bind.CreateHostPath)) {
				continue
			}
			if _, err := os.Stat(v.Source); err != nil {
				add(name, fmt.Sprintf("volumes[%d].source", i), "bind source %s does not exist (create it, or use the short syntax, which creates it)", v.Source)
			}
		}
		limit := float64(s.CPUS)
		field := "cpus"
		if s.Deploy != nil && s.Deploy.Resources.Limits != nil && s.Deploy.Resources.Limits.NanoCPUs > 0 && limit == 0 {
			limit, field = float64(s.Deploy.Resources.Limits.NanoCPUs), "deploy.resources.limits.cpus"
		}
		if limit > float64(cpus) {
			add(name, field, "%v is more than the %d CPUs this host has (the range is 0.01 to %d.00)", limit, cpus, cpus)
		}
	}
	for _, kind := range []struct {
		what string
		used map[string]string
		objs map[string]types.FileObjectConfig
	}{{"secrets", usedSecrets, secretObjects(p)}, {"configs", usedConfigs, configObjects(p)}} {
		keys := slices.Sorted(maps.Keys(kind.used))
		for _, key := range keys {
			obj, ok := kind.objs[key]
			if !ok || obj.File == "" || bool(obj.External) {
				continue
			}
			if _, err := os.Stat(obj.File); err != nil {
				add(kind.used[key], kind.what, "%s.%s.file: %s does not exist", kind.what, key, obj.File)
			}
		}
	}
	return pr.err()
}
