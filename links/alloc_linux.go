package links

import (
	"encoding/binary"
	"fmt"
	"net"

	"github.com/vishvananda/netlink"
)

// usedSubnets is every subnet the host routes (other bridges, VPNs, the
// LAN) and every one allocated to a project of this root.
func (m *Manager) usedSubnets() []*net.IPNet {
	var out []*net.IPNet
	if routes, err := netlink.RouteList(nil, netlink.FAMILY_V4); err == nil {
		for _, r := range routes {
			if r.Dst != nil && r.Dst.IP.To4() != nil {
				if ones, _ := r.Dst.Mask.Size(); ones > 0 {
					out = append(out, r.Dst)
				}
			}
		}
	}
	if addrs, err := netlink.AddrList(nil, netlink.FAMILY_V4); err == nil {
		for _, a := range addrs {
			out = append(out, a.IPNet)
		}
	}
	for _, p := range m.allProjects() {
		st, err := m.load(p)
		if err != nil {
			continue
		}
		for _, n := range st.Networks {
			if _, sn, err := net.ParseCIDR(n.Subnet); err == nil {
				out = append(out, sn)
			}
		}
	}
	return out
}

func overlaps(a, b *net.IPNet) bool { return a.Contains(b.IP) || b.Contains(a.IP) }

// allocateSubnet gives n its subnet: the one asked for (checked for
// collisions), or the first free /24 of the pool.
func (m *Manager) allocateSubnet(n *Network, want, gateway string) error {
	used := m.usedSubnets()
	if want != "" {
		_, sn, err := net.ParseCIDR(want)
		if err != nil {
			return fmt.Errorf("ipam subnet %q: %w", want, err)
		}
		for _, u := range used {
			if overlaps(sn, u) {
				return fmt.Errorf("subnet %s overlaps %s, already in use on this host", sn, u)
			}
		}
		n.Subnet = sn.String()
		n.Gateway = gateway
		if n.Gateway == "" {
			n.Gateway = nthIP(sn, 1).String()
		} else if !sn.Contains(net.ParseIP(gateway)) {
			return fmt.Errorf("gateway %s is not in subnet %s", gateway, sn)
		}
		return nil
	}
	base := binary.BigEndian.Uint32(m.Pool.IP.To4())
	ones, bits := m.Pool.Mask.Size()
	for i := uint32(0); i < 1<<(24-ones) && ones <= 24 && bits == 32; i++ {
		ip := make(net.IP, 4)
		binary.BigEndian.PutUint32(ip, base+i<<8)
		sn := &net.IPNet{IP: ip, Mask: net.CIDRMask(24, 32)}
		free := true
		for _, u := range used {
			if overlaps(sn, u) {
				free = false
				break
			}
		}
		if free {
			n.Subnet = sn.String()
			n.Gateway = nthIP(sn, 1).String()
			return nil
		}
	}
	return fmt.Errorf("%w %s", ErrNoSubnet, m.Pool)
}

func nthIP(sn *net.IPNet, n uint32) net.IP {
	ip := make(net.IP, 4)
	binary.BigEndian.PutUint32(ip, binary.BigEndian.Uint32(sn.IP.To4())+n)
	return ip
}

// allocateIP takes the lowest free address of the network (skipping the
// gateway and broadcast), across every project that joins it.
func (m *Manager) allocateIP(n *Network, st *projectState) (string, error) {
	taken := m.takenIPs(n, st)
	_, sn, _ := net.ParseCIDR(n.Subnet)
	ones, _ := sn.Mask.Size()
	size := uint32(1) << (32 - ones)
	for i := uint32(2); i < size-1; i++ {
		ip := nthIP(sn, i).String()
		if !taken[ip] && ip != n.Gateway {
			return ip, nil
		}
	}
	return "", fmt.Errorf("network %s has no free address left", n.FullName)
}

func (m *Manager) checkIP(n *Network, st *projectState, ip string) error {
	_, sn, _ := net.ParseCIDR(n.Subnet)
	if p := net.ParseIP(ip); p == nil || !sn.Contains(p) {
		return fmt.Errorf("ipv4_address %s is not in network %s (%s)", ip, n.FullName, n.Subnet)
	}
	if ip == n.Gateway || m.takenIPs(n, st)[ip] {
		return fmt.Errorf("ipv4_address %s is already in use on network %s", ip, n.FullName)
	}
	return nil
}

func (m *Manager) takenIPs(n *Network, st *projectState) map[string]bool {
	taken := map[string]bool{}
	states := []*projectState{st}
	for _, p := range m.allProjects() {
		if p != n.Project {
			if other, err := m.load(p); err == nil {
				states = append(states, other)
			}
		}
	}
	for _, s := range states {
		for _, sb := range s.Sandboxes {
			for _, ep := range sb.Endpoints {
				if ep.Network == n.FullName {
					taken[ep.IP] = true
				}
			}
		}
	}
	return taken
}
