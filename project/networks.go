package project

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/berthdev/berth/links"
	"github.com/berthdev/berth/runtime"
	"github.com/compose-spec/compose-go/v2/types"
)

// attachNetwork gives a new container its network namespace according to
// network_mode: the host's, none, another service's or container's, or
// (the default) a namespace of its own on the project's networks.
func (e *Engine) attachNetwork(ctx context.Context, p *Project, s types.ServiceConfig, spec *runtime.Spec) error {
	mode := s.NetworkMode
	switch {
	case mode == "host":
		spec.Network = runtime.NetworkHost
		return nil
	case mode == "none":
		spec.Network = runtime.NetworkNone
		return nil
	case strings.HasPrefix(mode, "service:"), strings.HasPrefix(mode, "container:"):
		return e.joinNetworkOf(ctx, p, s, spec)
	}
	return e.joinProjectNetworks(ctx, p, s, spec)
}

// networkKeys lists the project networks a service joins, default first.
func networkKeys(s types.ServiceConfig) []string {
	var keys []string
	for k := range s.Networks {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		pi, pj := priority(s, keys[i]), priority(s, keys[j])
		if pi != pj {
			return pi > pj
		}
		return keys[i] < keys[j]
	})
	if len(keys) == 0 && s.NetworkMode == "" {
		keys = []string{"default"}
	}
	return keys
}

func priority(s types.ServiceConfig, key string) int {
	if c := s.Networks[key]; c != nil {
		return c.Priority
	}
	return 0
}

// ensureNetworks creates the project networks the services join.
func (e *Engine) ensureNetworks(ctx context.Context, p *Project, services []string, ev Events) error {
	seen := map[string]bool{}
	for _, name := range services {
		s := p.Services[name]
		if s.NetworkMode != "" {
			continue
		}
		for _, key := range networkKeys(s) {
			if seen[key] {
				continue
			}
			seen[key] = true
			cfg := p.Networks[key]
			spec := links.NetworkSpec{Project: p.Name, Name: key, FullName: cfg.Name, Internal: cfg.Internal, External: bool(cfg.External)}
			if spec.FullName == "" {
				spec.FullName = p.Name + "_" + key
			}
			if cfg.Ipam.Config != nil && len(cfg.Ipam.Config) > 0 {
				spec.Subnet = cfg.Ipam.Config[0].Subnet
				spec.Gateway = cfg.Ipam.Config[0].Gateway
			}
			if cfg.Driver != "" && cfg.Driver != "bridge" {
				return &ValidationError{Field: "networks." + key + ".driver", Msg: fmt.Sprintf("%q is not supported by berth (bridge only)", cfg.Driver)}
			}
			_, created, err := e.links.EnsureNetwork(ctx, spec)
			if err != nil {
				return err
			}
			// As compose: a network is reported when it is made, not
			// each time a command finds it there.
			if created {
				ev.emit("Network "+spec.FullName, "Created")
			}
		}
	}
	return nil
}

// servicePorts converts a service's ports: into links' form.
func servicePorts(s types.ServiceConfig) ([]links.Port, error) {
	var out []links.Port
	for _, pc := range s.Ports {
		hp := 0
		if pc.Published != "" {
			n, err := strconv.Atoi(pc.Published)
			if err != nil {
				return nil, &ValidationError{Service: s.Name, Field: "ports", Msg: fmt.Sprintf("%q is not a host port", pc.Published)}
			}
			hp = n
		}
		proto := pc.Protocol
		if proto == "" {
			proto = "tcp"
		}
		if proto != "tcp" && proto != "udp" {
			return nil, &ValidationError{Service: s.Name, Field: "ports", Msg: fmt.Sprintf("protocol %q is not tcp or udp", proto)}
		}
		hostIP := pc.HostIP
		if hostIP == "0.0.0.0" {
			hostIP = ""
		}
		out = append(out, links.Port{HostIP: hostIP, HostPort: hp, ContainerPort: int(pc.Target), Protocol: proto})
	}
	return out, nil
}

// checkPorts refuses, before anything starts, host ports that are taken.
func (e *Engine) checkPorts(ctx context.Context, p *Project, services []string) error {
	var all []links.Port
	for _, name := range services {
		ports, err := servicePorts(p.Services[name])
		if err != nil {
			return err
		}
		if err := e.links.CheckPorts(p.Name, ports); err != nil {
			return fmt.Errorf("service %q: %w", name, err)
		}
		all = append(all, ports...)
	}
	seen := map[string]bool{}
	for _, pt := range all {
		if pt.HostPort == 0 {
			continue
		}
		k := fmt.Sprintf("%s/%d", pt.Protocol, pt.HostPort)
		if seen[k] {
			return fmt.Errorf("%w: %s is published twice in the project", links.ErrPortInUse, k)
		}
		seen[k] = true
	}
	return nil
}

// joinProjectNetworks attaches a new container to its networks, publishes
// its ports, and mounts its generated hosts (and resolv.conf) files.
func (e *Engine) joinProjectNetworks(ctx context.Context, p *Project, s types.ServiceConfig, spec *runtime.Spec) error {
	ports, err := servicePorts(s)
	if err != nil {
		return err
	}
	n, _ := strconv.Atoi(spec.Labels[LabelNumber])
	as := links.AttachSpec{
		Project: p.Name, ContainerID: spec.ID, ContainerName: spec.Name, Service: s.Name, Number: n,
		Hostname: spec.Hostname, Ports: ports, Links: s.Links, ExtraHosts: s.ExtraHosts.AsList(":"),
	}
	if spec.Labels[LabelOneoff] == "True" {
		as.Service = ""
	}
	for _, key := range networkKeys(s) {
		a := links.Attachment{Network: key, MAC: s.MacAddress}
		if c := s.Networks[key]; c != nil {
			a.IP = c.Ipv4Address
			a.Aliases = c.Aliases
			if c.MacAddress != "" {
				a.MAC = c.MacAddress
			}
		}
		as.Networks = append(as.Networks, a)
	}
	sb, err := e.links.Attach(ctx, as)
	if err != nil {
		return err
	}
	spec.Network, spec.NetNS = runtime.NetworkPath, sb.NetNS
	dir := filepath.Join(e.runtime.Root(), "projects", p.Name, "etc", spec.ID)
	// Bind mounts need no way through the directories above the files.
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	hosts := filepath.Join(dir, "hosts")
	if err := os.WriteFile(hosts, nil, 0o644); err != nil {
		return err
	}
	// Counted only now that the file a rewrite fills exists.
	e.hosts.changed(p.Name)
	spec.Mounts = append(spec.Mounts, runtime.Mount{Type: "bind", Source: hosts, Target: "/etc/hosts"})
	// Names resolve through the container's embedded name server;
	// dns: entries become its upstream servers.
	upstream := runtime.HostNameservers()
	if len(s.DNS) > 0 {
		upstream = nil
		for _, d := range s.DNS {
			upstream = append(upstream, net.JoinHostPort(d, "53"))
		}
	}
	spec.Resolver = &runtime.Resolver{NamesFile: filepath.Join(dir, "names"), Upstream: upstream}
	resolv := filepath.Join(dir, "resolv.conf")
	var b strings.Builder
	fmt.Fprintf(&b, "nameserver %s\n", runtime.ResolverAddress)
	if len(s.DNSSearch) > 0 {
		fmt.Fprintf(&b, "search %s\n", strings.Join(s.DNSSearch, " "))
	}
	opts := append([]string{"ndots:0"}, s.DNSOpts...)
	fmt.Fprintf(&b, "options %s\n", strings.Join(opts, " "))
	if err := os.WriteFile(resolv, []byte(b.String()), 0o644); err != nil {
		return err
	}
	spec.Mounts = append(spec.Mounts, runtime.Mount{Type: "bind", Source: resolv, Target: "/etc/resolv.conf", ReadOnly: true})
	spec.Env = append(spec.Env, e.linkEnv(ctx, p, s, spec.Name, sb)...)
	return e.refreshOwnHosts(p.Name, spec.ID)
}

// linkEnv is Fig's link environment for each of the service's links and
// external links, under the link's alias and Fig's <service>_1 alias.
func (e *Engine) linkEnv(ctx context.Context, p *Project, s types.ServiceConfig, name string, sb *links.Sandbox) []string {
	var out []string
	all, _ := e.links.Sandboxes(p.Name)
	add := func(alias string, c runtime.Info, ip string, svc *types.ServiceConfig) {
		var ports []string
		if img, err := e.images.Get(ctx, c.Labels[LabelImage]); err == nil {
			for pt := range img.Config.Config.ExposedPorts {
				ports = append(ports, pt)
			}
		}
		if svc != nil {
			for _, x := range svc.Expose {
				if !strings.Contains(x, "/") {
					x += "/tcp"
				}
				ports = append(ports, x)
			}
			for _, pc := range svc.Ports {
				ports = append(ports, fmt.Sprintf("%d/%s", pc.Target, orTCP(pc.Protocol)))
			}
		}
		t := links.LinkTarget{Alias: alias, ContainerName: c.Name, IP: ip, Ports: slices.Compact(slices.Sorted(slices.Values(ports))), Env: c.Spec.Env}
		out = append(out, links.LinkEnv(name, t)...)
	}
	for _, l := range s.Links {
		svcName, alias, ok := strings.Cut(l, ":")
		if !ok {
			alias = svcName
		}
		target, ok := p.Services[svcName]
		if !ok {
			continue
		}
		c, err := e.serviceContainer(ctx, p, svcName, 1)
		if err != nil {
			continue
		}
		ip := ""
		for _, other := range all {
			if other.ContainerID == c.ID && len(other.Endpoints) > 0 {
				ip = other.Endpoints[0].IP
			}
		}
		add(alias, c.Info, ip, &target)
		if alias == svcName {
			add(svcName+"_1", c.Info, ip, &target)
		}
	}
	for _, l := range s.ExternalLinks {
		cname, alias, ok := strings.Cut(l, ":")
		if !ok {
			alias = cname
		}
		c, err := e.runtime.Inspect(ctx, cname)
		if err != nil {
			continue
		}
		ip := ""
		if osb, err := e.links.Sandbox(c.Labels[LabelProject], c.ID); err == nil && osb != nil && len(osb.Endpoints) > 0 {
			ip = osb.Endpoints[0].IP
		}
		add(alias, c, ip, nil)
	}
	return out
}

func orTCP(p string) string {
	if p == "" {
		return "tcp"
	}
	return p
}

// detachNetwork releases a removed container's namespace, addresses and
// ports, and takes its names out of its peers' hosts files.
func (e *Engine) detachNetwork(ctx context.Context, project, id string) error {
	if project == "" {
		return nil
	}
	err := e.links.Detach(ctx, project, id)
	e.hosts.changed(project)
	if err != nil {
		return err
	}
	os.RemoveAll(filepath.Join(e.runtime.Root(), "projects", project, "etc", id))
	return e.refreshHosts(project)
}

// removeNetworks removes the project's networks, its containers'
// namespaces and rules, and whatever of its networking a crash left
// behind.
func (e *Engine) removeNetworks(ctx context.Context, p *Project, ev Events) error {
	removed, err := e.links.Cleanup(ctx, p.Name)
	for _, n := range removed {
		ev.emit("Network "+n.FullName, "Removed")
	}
	os.RemoveAll(filepath.Join(e.runtime.Root(), "projects", p.Name, "etc"))
	return err
}
