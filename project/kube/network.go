package kube

import (
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
)

// maxRange bounds the ports one range of expose: becomes: a Service
// lists each port, and a range of thousands is a mistake to report
// rather than a Service to write.
const maxRange = 100

type portProto struct {
	port  int32
	proto string
}

func protocol(p string) string {
	switch strings.ToLower(p) {
	case "udp":
		return "UDP"
	case "sctp":
		return "SCTP"
	}
	return "TCP"
}

// portName names a Service port: unique in the Service, an IANA service
// name of 15 characters at most.
func portName(p portProto) string {
	return fmt.Sprintf("%s-%d", strings.ToLower(string(p.proto)), p.port)
}

// ports are the container ports a service listens on, from ports: and
// expose:, each once, in order; worked out (and warned of) once.
func (c *converter) ports(s types.ServiceConfig) []portProto {
	if out, ok := c.portsOf[s.Name]; ok {
		return out
	}
	out := c.listPorts(s)
	c.portsOf[s.Name] = out
	return out
}

func (c *converter) listPorts(s types.ServiceConfig) []portProto {
	seen := map[portProto]bool{}
	var out []portProto
	add := func(p portProto) {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	for _, p := range s.Ports {
		add(portProto{int32(p.Target), protocol(p.Protocol)})
	}
	for _, e := range s.Expose {
		spec, proto, _ := strings.Cut(e, "/")
		lo, hi, isRange := strings.Cut(spec, "-")
		first, err1 := strconv.ParseUint(lo, 10, 16)
		last := first
		var err2 error
		if isRange {
			last, err2 = strconv.ParseUint(hi, 10, 16)
		}
		switch {
		case err1 != nil || err2 != nil || first == 0 || last < first:
			c.warn(s.Name, "expose", "%q is not a port or a range of ports; left out", e)
			continue
		case last-first >= maxRange:
			c.warn(s.Name, "expose", "%q: a Service lists each port, and this range has %d; left out", e, last-first+1)
			continue
		}
		for p := first; p <= last; p++ {
			add(portProto{int32(p), protocol(proto)})
		}
	}
	return out
}

func (c *converter) containerPorts(s types.ServiceConfig, ctr *Container) {
	for _, p := range c.ports(s) {
		ctr.Ports = append(ctr.Ports, ContainerPort{ContainerPort: p.port, Protocol: p.proto})
	}
}

// network makes a service's Services: a headless one of its name, which
// resolves to its ready pods as a service name resolves on a berth
// network, every port reachable; and, when it publishes ports, one of
// type NodePort or LoadBalancer with those ports only.
func (c *converter) network(s types.ServiceConfig) error {
	if s.NetworkMode == "none" {
		return nil
	}
	name := c.names[s.Name]
	if err := c.add("Service", name, c.headless(name, s)); err != nil {
		return err
	}
	var ports []ServicePort
	seen := map[portProto]bool{}
	for i, p := range s.Ports {
		field := fmt.Sprintf("ports[%d]", i)
		spec := portSpec(p)
		if p.HostIP != "" {
			addr, err := netip.ParseAddr(p.HostIP)
			switch {
			case err == nil && addr.IsLoopback():
				c.warn(s.Name, field, "%s is published on the host's loopback address only: it is not exposed outside the cluster (kubectl port-forward reaches it)", spec)
				continue
			case err != nil || !addr.IsUnspecified():
				c.warn(s.Name, field, "%s: the Service listens on every node, not on %s only", spec, p.HostIP)
			}
		}
		if p.Mode == "host" {
			c.warn(s.Name, field, "%s: mode host has no Kubernetes equivalent; published as a Service port", spec)
		}
		target := portProto{int32(p.Target), protocol(p.Protocol)}
		sp := ServicePort{Protocol: target.proto, TargetPort: target.port, Port: target.port}
		if p.AppProtocol != "" {
			sp.AppProtocol = ptr(p.AppProtocol)
		}
		if p.Published != "" {
			lo, _, isRange := strings.Cut(p.Published, "-")
			n, err := strconv.ParseUint(lo, 10, 16)
			if err != nil || n == 0 {
				c.warn(s.Name, field, "%s: %q is not a port; left out", spec, p.Published)
				continue
			}
			if isRange {
				c.warn(s.Name, field, "%s: a range of host ports has no Kubernetes equivalent; the Service uses %d", spec, n)
			}
			sp.Port = int32(n)
			if c.opts.ServiceType == NodePort {
				if n >= 30000 && n <= 32767 {
					sp.NodePort = int32(n)
				} else {
					c.warn(s.Name, field, "%s: %d is outside the node port range (30000-32767): nodes listen on a port the cluster picks (see kubectl get service %s-published), or use --service-type LoadBalancer", spec, n, name)
				}
			}
		}
		key := portProto{sp.Port, sp.Protocol}
		if seen[key] {
			c.warn(s.Name, field, "%s: port %d/%s is published twice; the second is left out", spec, sp.Port, sp.Protocol)
			continue
		}
		seen[key] = true
		sp.Name = portName(key)
		ports = append(ports, sp)
	}
	if len(ports) == 0 {
		return nil
	}
	pub := &Service{
		TypeMeta:   TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: c.meta(name+"-published", s.Name),
		Spec: ServiceSpec{
			Type:     c.opts.ServiceType,
			Selector: c.selector(s.Name),
			Ports:    ports,
		},
	}
	return c.add("Service", pub.ObjectMeta.Name, pub)
}

// headless is a Service without a cluster IP: DNS answers with the
// addresses of the ready pods it selects, as on a berth network.
func (c *converter) headless(name string, s types.ServiceConfig) *Service {
	svc := &Service{
		TypeMeta:   TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: c.meta(name, s.Name),
		Spec: ServiceSpec{
			ClusterIP: "None",
			Selector:  c.selector(s.Name),
		},
	}
	for _, p := range c.ports(s) {
		svc.Spec.Ports = append(svc.Spec.Ports, ServicePort{
			Name: portName(p), Port: p.port, Protocol: p.proto, TargetPort: p.port,
		})
	}
	return svc
}

// portSpec is a port as compose's short syntax writes it.
func portSpec(p types.ServicePortConfig) string {
	var b strings.Builder
	if p.HostIP != "" {
		b.WriteString(p.HostIP + ":")
	}
	if p.Published != "" || p.HostIP != "" {
		b.WriteString(p.Published + ":")
	}
	fmt.Fprintf(&b, "%d", p.Target)
	if p.Protocol != "" && p.Protocol != "tcp" {
		b.WriteString("/" + p.Protocol)
	}
	return b.String()
}

// aliases gives each network alias and link alias of an exported
// service a headless Service of its own, selecting the same pods. On a
// berth network a link alias is seen by the linking service only; in a
// namespace, by everyone.
func (c *converter) aliases() error {
	type alias struct{ service, field string }
	want := map[string][]alias{}
	for _, n := range c.services {
		s := c.p.Services[n]
		if s.NetworkMode == "none" {
			continue
		}
		for _, net := range sortedKeys(s.Networks) {
			if cfg := s.Networks[net]; cfg != nil {
				for _, a := range cfg.Aliases {
					want[a] = append(want[a], alias{n, "networks." + net + ".aliases"})
				}
			}
		}
		for _, l := range s.Links {
			target, a, ok := strings.Cut(l, ":")
			if ok && a != "" {
				want[a] = append(want[a], alias{target, "links"})
			}
		}
		if len(s.Links) > 0 {
			c.warn(n, "links", "the link environment variables (such as DB_PORT_5432_TCP_ADDR) are not set; the names resolve")
		}
	}
	reserved := map[string]bool{}
	for _, n := range c.services {
		reserved[n] = true
		reserved[c.names[n]] = true
		reserved[c.names[n]+"-published"] = true
	}
	for _, a := range sortedKeys(want) {
		uses := want[a]
		if reserved[a] {
			continue
		}
		target := uses[0].service
		if _, ok := c.names[target]; !ok {
			continue // a link to a service not exported
		}
		if !isDNSLabel(a) {
			c.warn(target, uses[0].field, "alias %q is not a DNS label, which a Service name must be; left out", a)
			continue
		}
		for _, u := range uses[1:] {
			if u.service != target {
				c.warn(u.service, u.field, "alias %q is also an alias of %q; in a namespace it names %q only", a, target, target)
			}
		}
		svc := c.headless(a, c.p.Services[target])
		if err := c.add("Service", a, svc); err != nil {
			return err
		}
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
