package links

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/berthdev/berth/internal/timing"
	"net"
	"os"
	"path/filepath"
	goruntime "runtime"
	"sort"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Manager creates and removes the networks of the projects under one root.
type Manager struct {
	root  string
	state string
	// Pool is where subnets are carved from (/24s); the default is
	// 10.213.0.0/16, rarely used by anything else.
	Pool *net.IPNet
}

// Open returns the manager for a berth root and state directory.
func Open(root, state string) (*Manager, error) {
	var err error
	m := &Manager{}
	if m.root, err = filepath.Abs(root); err != nil {
		return nil, err
	}
	if m.state, err = filepath.Abs(state); err != nil {
		return nil, err
	}
	_, m.Pool, _ = net.ParseCIDR("10.213.0.0/16")
	return m, nil
}

// NetworkSpec describes a project network.
type NetworkSpec struct {
	Project  string
	Name     string // the compose key
	FullName string // the network's own name
	Subnet   string // optional CIDR
	Gateway  string // optional
	Internal bool
	External bool // join an existing network FullName of any project
}

// bridgeName derives a 15-character interface name unique to the root,
// project and network.
func (m *Manager) bridgeName(project, name string) string {
	h := sha256.Sum256([]byte(m.root + "\x00" + project + "\x00" + name))
	return "berth" + hex.EncodeToString(h[:])[:10]
}

// EnsureNetwork creates the network's bridge and subnet if needed, and
// says whether the network is new to the project.
func (m *Manager) EnsureNetwork(ctx context.Context, spec NetworkSpec) (n *Network, created bool, err error) {
	end := timing.Span("network: host lock")
	unlock, err := m.lock()
	end()
	if err != nil {
		return nil, false, err
	}
	defer unlock()
	st, err := m.load(spec.Project)
	if err != nil {
		return nil, false, err
	}
	if spec.External {
		n, err := m.findByFullName(spec.FullName)
		if err != nil {
			return nil, false, err
		}
		st.Networks[spec.Name] = n
		return n, false, m.save(spec.Project, st)
	}
	n = st.Networks[spec.Name]
	if n == nil {
		created = true
		n = &Network{Project: spec.Project, Name: spec.Name, FullName: spec.FullName, Bridge: m.bridgeName(spec.Project, spec.Name), Internal: spec.Internal, Owner: spec.Project}
		if err := m.allocateSubnet(n, spec.Subnet, spec.Gateway); err != nil {
			return nil, false, fmt.Errorf("network %s: %w", spec.FullName, err)
		}
		st.Networks[spec.Name] = n
		if err := m.save(spec.Project, st); err != nil {
			return nil, false, err
		}
	}
	end = timing.Span("network: bridge")
	if err := m.setupBridge(n); err != nil {
		return nil, false, fmt.Errorf("network %s: %w", spec.FullName, err)
	}
	end()
	end = timing.Span("network: nftables")
	if err := m.writeNetworkRules(spec.Project, st); err != nil {
		return nil, false, fmt.Errorf("network %s: %w", spec.FullName, err)
	}
	end()
	defer timing.Span("network: iptables FORWARD")()
	if err := openBridge(ctx, n); err != nil {
		return nil, false, fmt.Errorf("network %s: %w", spec.FullName, err)
	}
	return n, created, nil
}

// openBridge lets traffic through a bridge once its rules are written.
// Published ports answer on 127.0.0.1: the replies to the host's
// connections through the bridge, de-NATed back to 127.0.0.1, are routed
// only with route_localnet. It is turned on after the rules, whose guard
// drops 127.0.0.0/8 arriving from elsewhere than lo. And iptables'
// FORWARD chains must let the bridge's traffic through (allowForwarding).
func openBridge(ctx context.Context, n *Network) error {
	if err := os.WriteFile(fmt.Sprintf("/proc/sys/net/ipv4/conf/%s/route_localnet", n.Bridge), []byte("1"), 0o644); err != nil {
		return err
	}
	return allowForwarding(ctx, n.Bridge)
}

// findByFullName finds a network by its own name in any project.
func (m *Manager) findByFullName(full string) (*Network, error) {
	for _, p := range m.allProjects() {
		st, err := m.load(p)
		if err != nil {
			continue
		}
		for _, n := range st.Networks {
			if n.FullName == full && n.Owner == p {
				return n, nil
			}
		}
	}
	return nil, fmt.Errorf("%w: %s (external networks must be created by another project first)", ErrNetworkNotFound, full)
}

// setupBridge makes the bridge exist, addressed and up.
func (m *Manager) setupBridge(n *Network) error {
	link, err := netlink.LinkByName(n.Bridge)
	if err != nil {
		la := netlink.NewLinkAttrs()
		la.Name = n.Bridge
		if err := netlink.LinkAdd(&netlink.Bridge{LinkAttrs: la}); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("creating bridge %s: %w", n.Bridge, err)
		}
		if link, err = netlink.LinkByName(n.Bridge); err != nil {
			return err
		}
	}
	_, subnet, _ := net.ParseCIDR(n.Subnet)
	addr := &netlink.Addr{IPNet: &net.IPNet{IP: net.ParseIP(n.Gateway), Mask: subnet.Mask}}
	if err := netlink.AddrAdd(link, addr); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("addressing bridge %s: %w", n.Bridge, err)
	}
	if err := netlink.LinkSetUp(link); err != nil {
		return err
	}
	if !n.Internal {
		// Containers reach out through the host. This is a host-wide
		// setting that berth turns on and leaves on, as Docker does.
		os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1"), 0o644)
	}
	return nil
}

// Attachment is one network a container joins.
type Attachment struct {
	Network string // compose key
	IP      string // fixed ipv4_address, optional
	MAC     string
	Aliases []string
}

// AttachSpec describes a container's networking.
type AttachSpec struct {
	Project       string
	ContainerID   string
	ContainerName string
	Service       string
	Number        int
	Hostname      string
	Networks      []Attachment // the first gives the default route
	Ports         []Port
	Links         []string // "service:alias"
	ExtraHosts    []string // "name:ip"
}

// Attach creates the container's network namespace (bind-mounted under
// <state>/netns, so it outlives the container's processes and a restart
// keeps its addresses), with lo up and a veth into each network, and
// publishes its ports. It returns the namespace's path.
//
// Only the allocation (addresses, ports, the record of the sandbox and
// the rules) is made under the host's network lock; the namespace and its
// veths, which no other container shares, are made after it, so that the
// containers of a stack are wired in parallel. The sandbox is recorded
// before anything of it exists, so what a crash leaves is found and
// removed by Detach or Cleanup.
func (m *Manager) Attach(ctx context.Context, spec AttachSpec) (*Sandbox, error) {
	sb, nets, flush, err := m.reserve(spec)
	if err != nil {
		return nil, err
	}
	if err := flush(); err != nil {
		return nil, errors.Join(err, m.Detach(ctx, spec.Project, spec.ContainerID))
	}
	fail := func(err error) (*Sandbox, error) {
		if derr := m.Detach(ctx, spec.Project, spec.ContainerID); derr != nil {
			err = errors.Join(err, derr)
		}
		return nil, err
	}
	end := timing.Span("attach: netns")
	if err := newNetNS(sb.NetNS); err != nil {
		return fail(err)
	}
	if err := loUp(sb.NetNS); err != nil {
		return fail(err)
	}
	end()
	defer timing.Span("attach: veth")()
	for i, ep := range sb.Endpoints {
		n := &nets[i]
		if err := plugVeth(sb.NetNS, n, ep, i, i == 0 && !n.Internal); err != nil {
			return fail(fmt.Errorf("network %s: %w", n.FullName, err))
		}
	}
	return sb, nil
}

// reserve records the sandbox of a new container with its addresses and
// ports, and writes the project's rules for them, under the host's network
// lock. It returns the sandbox, the network of each endpoint, and what
// makes the record durable once the lock is released.
func (m *Manager) reserve(spec AttachSpec) (sb *Sandbox, nets []Network, flush func() error, err error) {
	end := timing.Span("attach: host lock")
	unlock, err := m.lock()
	end()
	if err != nil {
		return nil, nil, nil, err
	}
	defer unlock()
	defer timing.Span("attach: reserve")()
	st, err := m.load(spec.Project)
	if err != nil {
		return nil, nil, nil, err
	}
	sb = &Sandbox{ContainerID: spec.ContainerID, ContainerName: spec.ContainerName, Service: spec.Service, Number: spec.Number, Hostname: spec.Hostname, Links: spec.Links, ExtraHosts: spec.ExtraHosts}
	sb.NetNS = filepath.Join(m.state, "netns", spec.ContainerID)
	st.Sandboxes[spec.ContainerID] = sb
	for i, a := range spec.Networks {
		n := st.Networks[a.Network]
		if n == nil {
			return nil, nil, nil, fmt.Errorf("network %q is not set up", a.Network)
		}
		ip := a.IP
		if ip == "" {
			if ip, err = m.allocateIP(n, st); err != nil {
				return nil, nil, nil, err
			}
		} else if err := m.checkIP(n, st, ip); err != nil {
			return nil, nil, nil, err
		}
		sb.Endpoints = append(sb.Endpoints, Endpoint{Network: n.FullName, IP: ip, MAC: a.MAC, Aliases: a.Aliases, Veth: vethName(spec.ContainerID, i)})
		nets = append(nets, *n)
	}
	if len(spec.Ports) > 0 {
		if len(sb.Endpoints) == 0 {
			return nil, nil, nil, errors.New("ports are published only from containers on a project network")
		}
		ports, err := m.resolvePorts(spec.Ports, sb.Endpoints[0].IP, spec.Project, spec.ContainerID)
		if err != nil {
			return nil, nil, nil, err
		}
		sb.Ports = ports
	}
	if flush, err = m.saveDeferred(spec.Project, st); err != nil {
		return nil, nil, nil, err
	}
	if err := m.writeNetworkRules(spec.Project, st); err != nil {
		delete(st.Sandboxes, spec.ContainerID)
		m.save(spec.Project, st)
		m.writeNetworkRules(spec.Project, st)
		return nil, nil, nil, err
	}
	return sb, nets, flush, nil
}

// Detach removes a container's namespace, veths, addresses and port rules.
// The namespace and veths, the container's alone, are removed before the
// host's network lock is taken (deleting a veth waits out an RCU grace
// period, which under the lock every other container's set-up would wait
// for too), and only then is the record dropped, so that a crash in
// between leaves a record for Cleanup to act on.
func (m *Manager) Detach(ctx context.Context, project, containerID string) error {
	st, err := m.load(project)
	if err != nil {
		return err
	}
	sb := st.Sandboxes[containerID]
	if sb == nil {
		return nil
	}
	end := timing.Span("detach: veth, netns")
	terr := m.teardownSandbox(sb)
	end()
	end = timing.Span("detach: host lock")
	unlock, err := m.lock()
	end()
	if err != nil {
		return errors.Join(terr, err)
	}
	defer unlock()
	if st, err = m.load(project); err != nil {
		return errors.Join(terr, err)
	}
	if st.Sandboxes[containerID] == nil {
		return terr
	}
	delete(st.Sandboxes, containerID)
	end = timing.Span("detach: nftables")
	werr := m.writeNetworkRules(project, st)
	end()
	flush, serr := m.saveDeferred(project, st)
	if serr != nil {
		return errors.Join(terr, werr, serr)
	}
	// Made durable once the lock is released.
	unlock()
	return errors.Join(terr, werr, flush())
}

// Sandbox returns a container's attachments, or nil.
func (m *Manager) Sandbox(project, containerID string) (*Sandbox, error) {
	st, err := m.load(project)
	if err != nil {
		return nil, err
	}
	return st.Sandboxes[containerID], nil
}

// Sandboxes lists the project's containers' attachments by container name.
func (m *Manager) Sandboxes(project string) ([]*Sandbox, error) {
	st, err := m.load(project)
	if err != nil {
		return nil, err
	}
	var out []*Sandbox
	for _, sb := range st.Sandboxes {
		out = append(out, sb)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ContainerName < out[j].ContainerName })
	return out, nil
}

// Networks lists the project's networks.
func (m *Manager) Networks(project string) (map[string]*Network, error) {
	st, err := m.load(project)
	if err != nil {
		return nil, err
	}
	return st.Networks, nil
}

func (m *Manager) teardownSandbox(sb *Sandbox) error {
	var errs []error
	for _, ep := range sb.Endpoints {
		if l, err := netlink.LinkByName(ep.Veth); err == nil {
			if err := netlink.LinkDel(l); err != nil {
				errs = append(errs, fmt.Errorf("removing %s: %w", ep.Veth, err))
			}
		}
	}
	if sb.NetNS != "" {
		if err := unix.Unmount(sb.NetNS, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("unmounting %s: %w", sb.NetNS, err))
		}
		if err := os.Remove(sb.NetNS); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Cleanup removes everything of a project: sandboxes, the networks it
// owns, its rules, and its state, also what a crashed run left. It returns
// the networks of its own that it removed, by name.
//
// The steps touch different parts of the kernel and go at once: the
// containers' namespaces (their veths go in one batch), each bridge
// (deleting one waits out RCU grace periods, some 40 ms), the FORWARD
// accept rules and the project's chains of berth's table.
func (m *Manager) Cleanup(ctx context.Context, project string) (removed []*Network, err error) {
	unlock, err := m.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	st, err := m.load(project)
	if err != nil {
		return nil, err
	}
	var owned []*Network
	for name, n := range st.Networks {
		if n.Owner == project {
			owned = append(owned, n)
		}
		delete(st.Networks, name)
	}
	sort.Slice(owned, func(i, j int) bool { return owned[i].FullName < owned[j].FullName })
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	add := func(err error) {
		if err != nil {
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
		}
	}
	step := func(name string, fn func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer timing.Span(name)()
			add(fn())
		}()
	}
	step("cleanup: namespaces", func() error {
		return m.teardownSandboxes(st.Sandboxes)
	})
	step("cleanup: iptables FORWARD", func() error {
		var errs []error
		for _, n := range owned {
			errs = append(errs, revokeForwarding(ctx, n.Bridge))
		}
		return errors.Join(errs...)
	})
	step("cleanup: nftables", func() error { return m.removeProjectRules(project) })
	gone := make([]bool, len(owned))
	for i, n := range owned {
		step("cleanup: bridge", func() error {
			if l, err := netlink.LinkByName(n.Bridge); err == nil {
				if err := netlink.LinkDel(l); err != nil {
					return fmt.Errorf("removing bridge %s: %w", n.Bridge, err)
				}
			}
			gone[i] = true
			return nil
		})
	}
	wg.Wait()
	for i, n := range owned {
		if gone[i] {
			removed = append(removed, n)
		}
	}
	st.Sandboxes = map[string]*Sandbox{}
	errs = append(errs, m.save(project, st))
	return removed, errors.Join(errs...)
}

// teardownSandboxes removes many sandboxes at once. Deleting a veth makes
// the kernel wait out an RCU grace period, one deletion after another
// under its network lock (some 8 ms each): instead the namespaces are let
// go, and the kernel, which destroys a dead namespace with its end of each
// veth pair and so the pair, destroys all of them in one batch with one
// grace period. Whatever is still there after a while (a process the
// namespace still held) is deleted one by one.
func (m *Manager) teardownSandboxes(sbs map[string]*Sandbox) error {
	veths, err := releaseNetNSs(sbs)
	return errors.Join(err, awaitVethsGone(veths))
}

// releaseNetNSs unmounts the sandboxes' namespaces, and returns their
// veths, which the kernel then destroys on its own.
func releaseNetNSs(sbs map[string]*Sandbox) (veths []string, err error) {
	var errs []error
	for _, sb := range sbs {
		if sb.NetNS == "" {
			continue
		}
		if err := unix.Unmount(sb.NetNS, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("unmounting %s: %w", sb.NetNS, err))
		}
		if err := os.Remove(sb.NetNS); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
		for _, ep := range sb.Endpoints {
			veths = append(veths, ep.Veth)
		}
	}
	return veths, errors.Join(errs...)
}

// awaitVethsGone waits a while for the kernel to destroy veths of released
// namespaces, and deletes those left.
func awaitVethsGone(veths []string) error {
	deadline := time.Now().Add(2 * time.Second)
	for len(veths) > 0 {
		left := veths[:0]
		for _, v := range veths {
			if _, err := netlink.LinkByName(v); err == nil {
				left = append(left, v)
			}
		}
		veths = left
		if len(veths) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(2 * time.Millisecond)
	}
	var errs []error
	for _, v := range veths {
		if l, err := netlink.LinkByName(v); err == nil {
			if err := netlink.LinkDel(l); err != nil {
				errs = append(errs, fmt.Errorf("removing %s: %w", v, err))
			}
		}
	}
	return errors.Join(errs...)
}

func vethName(containerID string, i int) string {
	return fmt.Sprintf("vb%s%d", containerID[:10], i)
}

// newNetNS creates a network namespace and bind-mounts it at path.
func newNetNS(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	f.Close()
	errc := make(chan error, 1)
	go func() {
		// The thread changes namespace; it is locked and, should it fail
		// to return to the original one, left to die with the goroutine.
		goruntime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			errc <- err
			return
		}
		defer orig.Close()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("creating a network namespace: %w", err)
			return
		}
		err = unix.Mount(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()), path, "", unix.MS_BIND, "")
		if serr := netns.Set(orig); serr != nil {
			errc <- errors.Join(err, serr)
			return
		}
		goruntime.UnlockOSThread()
		errc <- err
	}()
	if err := <-errc; err != nil {
		os.Remove(path)
		return err
	}
	return nil
}

// plugVeth creates a veth pair, puts one end in the namespace as ethN with
// the endpoint's address, attaches the other to the bridge, and (for the
// first network) routes by default through the gateway.
func plugVeth(nsPath string, n *Network, ep Endpoint, idx int, defaultRoute bool) error {
	ns, err := netns.GetFromPath(nsPath)
	if err != nil {
		return err
	}
	defer ns.Close()
	bridge, err := netlink.LinkByName(n.Bridge)
	if err != nil {
		return fmt.Errorf("bridge %s: %w", n.Bridge, err)
	}
	peer := ep.Veth + "p"
	la := netlink.NewLinkAttrs()
	la.Name = ep.Veth
	la.MasterIndex = bridge.Attrs().Index
	veth := &netlink.Veth{LinkAttrs: la, PeerName: peer, PeerNamespace: netlink.NsFd(int(ns))}
	if err := netlink.LinkAdd(veth); err != nil {
		return fmt.Errorf("creating veth %s: %w", ep.Veth, err)
	}
	host, err := netlink.LinkByName(ep.Veth)
	if err != nil {
		return err
	}
	netlink.LinkSetHairpin(host, true)
	if err := netlink.LinkSetUp(host); err != nil {
		return err
	}
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return err
	}
	defer h.Close()
	if lo, err := h.LinkByName("lo"); err == nil {
		h.LinkSetUp(lo)
	}
	inner, err := h.LinkByName(peer)
	if err != nil {
		return err
	}
	name := fmt.Sprintf("eth%d", idx)
	if err := h.LinkSetName(inner, name); err != nil {
		return err
	}
	if ep.MAC != "" {
		mac, err := net.ParseMAC(ep.MAC)
		if err != nil {
			return fmt.Errorf("mac_address %q: %w", ep.MAC, err)
		}
		if err := h.LinkSetHardwareAddr(inner, mac); err != nil {
			return err
		}
	}
	_, subnet, _ := net.ParseCIDR(n.Subnet)
	if err := h.AddrAdd(inner, &netlink.Addr{IPNet: &net.IPNet{IP: net.ParseIP(ep.IP), Mask: subnet.Mask}}); err != nil {
		return err
	}
	if err := h.LinkSetUp(inner); err != nil {
		return err
	}
	if defaultRoute {
		if err := h.RouteAdd(&netlink.Route{LinkIndex: inner.Attrs().Index, Gw: net.ParseIP(n.Gateway)}); err != nil {
			return fmt.Errorf("default route: %w", err)
		}
	}
	return nil
}

func loUp(nsPath string) error {
	ns, err := netns.GetFromPath(nsPath)
	if err != nil {
		return err
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return err
	}
	defer h.Close()
	lo, err := h.LinkByName("lo")
	if err != nil {
		return err
	}
	return h.LinkSetUp(lo)
}
