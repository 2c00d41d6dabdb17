package links

import (
	"errors"
	"fmt"
	"net"
	"strconv"
)

// portFree asks the kernel whether a host port can be had, by binding it.
func portFree(hostIP string, port int, proto string) bool {
	if hostIP == "" {
		hostIP = "0.0.0.0"
	}
	addr := net.JoinHostPort(hostIP, strconv.Itoa(port))
	if proto == "udp" {
		c, err := net.ListenPacket("udp4", addr)
		if err != nil {
			return false
		}
		c.Close()
		return true
	}
	l, err := net.Listen("tcp4", addr)
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// randomPort asks the kernel for a free port.
func randomPort(hostIP, proto string) (int, error) {
	if hostIP == "" {
		hostIP = "0.0.0.0"
	}
	if proto == "udp" {
		c, err := net.ListenPacket("udp4", net.JoinHostPort(hostIP, "0"))
		if err != nil {
			return 0, err
		}
		defer c.Close()
		return c.LocalAddr().(*net.UDPAddr).Port, nil
	}
	l, err := net.Listen("tcp4", net.JoinHostPort(hostIP, "0"))
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// publishedElsewhere reports a berth rule of this root, outside the
// project skip, that already publishes the port (its NAT takes the port
// without a listening socket).
func (m *Manager) publishedElsewhere(p Port, skip string) string {
	for _, proj := range m.allProjects() {
		if proj == skip {
			continue
		}
		st, err := m.load(proj)
		if err != nil {
			continue
		}
		for _, sb := range st.Sandboxes {
			for _, q := range sb.Ports {
				if q.HostPort == p.HostPort && q.Protocol == p.Protocol && (q.HostIP == p.HostIP || q.HostIP == "" || p.HostIP == "") {
					return sb.ContainerName
				}
			}
		}
	}
	return ""
}

// CheckPorts reports the fixed host ports that are taken, so `up` can
// refuse before it creates anything. Ports the project itself publishes
// already are not counted: its containers are kept or replaced.
func (m *Manager) CheckPorts(project string, ports []Port) error {
	var errs []error
	for _, p := range ports {
		if p.HostPort == 0 {
			continue
		}
		if by := m.publishedElsewhere(p, project); by != "" {
			errs = append(errs, fmt.Errorf("%w: %s/%d is published by %s", ErrPortInUse, p.Protocol, p.HostPort, by))
			continue
		}
		if !portFree(p.HostIP, p.HostPort, p.Protocol) {
			errs = append(errs, fmt.Errorf("%w: %s %s:%d", ErrPortInUse, p.Protocol, orAll(p.HostIP), p.HostPort))
		}
	}
	return errors.Join(errs...)
}

func orAll(ip string) string {
	if ip == "" {
		return "0.0.0.0"
	}
	return ip
}

// resolvePorts picks random host ports where none is given and checks the
// fixed ones.
func (m *Manager) resolvePorts(ports []Port, containerIP, project, containerID string) ([]Port, error) {
	out := make([]Port, 0, len(ports))
	for _, p := range ports {
		if p.Protocol == "" {
			p.Protocol = "tcp"
		}
		p.ContainerIP = containerIP
		if p.HostPort == 0 {
			hp, err := randomPort(p.HostIP, p.Protocol)
			if err != nil {
				return nil, fmt.Errorf("finding a free host port for %d/%s: %w", p.ContainerPort, p.Protocol, err)
			}
			p.HostPort = hp
		} else if err := m.CheckPorts(project, []Port{p}); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}
