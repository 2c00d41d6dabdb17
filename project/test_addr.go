package project

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/berthdev/berth/runtime"
)

// hostAddr is where the host reaches a published port: the address it is
// published on, or 127.0.0.1 for one published on every address.
func hostAddr(pt Port) string {
	ip := pt.URL
	if ip == "" || ip == "0.0.0.0" {
		ip = "127.0.0.1"
	}
	return net.JoinHostPort(ip, strconv.Itoa(pt.PublishedPort))
}

// AddrEnv names the environment variable that carries the host address of
// a service's port: BERTH_ADDR_<SERVICE>_<PORT>, with _UDP after the port
// for udp, the service's name in capitals and every character other than
// a letter or digit made an underscore.
func AddrEnv(service string, port int, proto string) string {
	var b strings.Builder
	b.WriteString("BERTH_ADDR_")
	for _, r := range strings.ToUpper(service) {
		if (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	fmt.Fprintf(&b, "_%d", port)
	if proto == "udp" {
		b.WriteString("_UDP")
	}
	return b.String()
}

// Addresses are the host addresses of the ports the stack's services
// publish, by the name of the environment variable that gives them to a
// test (see AddrEnv): replica 1 of each service.
func (t *Throwaway) Addresses(ctx context.Context) (map[string]string, error) {
	cs, err := t.e.containers(ctx, t.Project.Name, containerQuery{})
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, c := range cs {
		if c.Number != 1 {
			continue
		}
		for _, pt := range t.e.publishedPorts(c) {
			out[AddrEnv(c.Service, pt.TargetPort, pt.Protocol)] = hostAddr(pt)
		}
	}
	return out, nil
}

// ServiceAddr is the address at which this host reaches port (tcp or
// udp) of replica 1 of a service: where the port is published when it is,
// else the container's own address on its first network (the host routes
// to its bridges), or 127.0.0.1 for a service on the host's network.
func (e *Engine) ServiceAddr(ctx context.Context, p *Project, service string, port int, proto string) (string, error) {
	if proto == "" {
		proto = "tcp"
	}
	c, err := e.serviceContainer(ctx, p, service, 1)
	if err != nil {
		return "", err
	}
	if c.Status != runtime.StatusRunning {
		return "", fmt.Errorf("%w: %s is %s", runtime.ErrNotRunning, c.Name, c.Status)
	}
	for _, pt := range e.publishedPorts(c) {
		if pt.TargetPort == port && pt.Protocol == proto {
			return hostAddr(pt), nil
		}
	}
	if c.Spec.Network == runtime.NetworkHost {
		return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), nil
	}
	sb, err := e.links.Sandbox(p.Name, c.ID)
	if err == nil && sb != nil {
		for _, ep := range sb.Endpoints {
			if ep.IP != "" {
				return net.JoinHostPort(ep.IP, strconv.Itoa(port)), nil
			}
		}
	}
	return "", fmt.Errorf("service %q publishes no port %d/%s and has no address of its own on a project network", service, port, proto)
}
