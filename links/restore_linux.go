package links

import (
	"context"
	"fmt"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Restore makes the network namespace at nsPath, a container's of the
// project as Attach made it, exist again with its addresses and routes,
// along with the bridges and rules of its networks: a reboot takes them all
// (the namespace's bind mount lives under the state directory, which is a
// tmpfs), while the allocation in the root stays. A namespace that is
// still there is left as it is. A path that is no sandbox of the project
// (network_mode host, none, another project's) is not its business.
func (m *Manager) Restore(ctx context.Context, project, nsPath string) error {
	// Most starts find everything in place: that is checked without the
	// host-wide lock.
	st, err := m.load(project)
	if err != nil {
		return err
	}
	if sb := sandboxAt(st, nsPath); sb == nil || m.intact(st, sb) {
		return nil
	}
	unlock, err := m.lock()
	if err != nil {
		return err
	}
	defer unlock()
	if st, err = m.load(project); err != nil {
		return err
	}
	sb := sandboxAt(st, nsPath)
	if sb == nil || m.intact(st, sb) {
		return nil
	}
	for _, ep := range sb.Endpoints {
		n := networkNamed(st, ep.Network)
		if n == nil {
			return fmt.Errorf("restoring the network of %s: network %s is not in the project's allocation", sb.ContainerName, ep.Network)
		}
		if err := m.setupBridge(n); err != nil {
			return fmt.Errorf("restoring network %s: %w", n.FullName, err)
		}
	}
	if netnsMounted(sb.NetNS) {
		// Only bridges were gone: their new selves take the veths back.
		if err := reattachVeths(st, sb); err != nil {
			return fmt.Errorf("restoring the network of %s: %w", sb.ContainerName, err)
		}
	} else if err := recreateNetNS(st, sb); err != nil {
		m.teardownSandbox(sb)
		return fmt.Errorf("restoring the network namespace of %s: %w", sb.ContainerName, err)
	}
	if err := m.writeNetworkRules(project, st); err != nil {
		return fmt.Errorf("restoring the network of %s: %w", sb.ContainerName, err)
	}
	for _, ep := range sb.Endpoints {
		if err := openBridge(ctx, networkNamed(st, ep.Network)); err != nil {
			return fmt.Errorf("restoring network %s: %w", ep.Network, err)
		}
	}
	return nil
}

// intact says whether the sandbox's namespace is mounted and the bridges
// of its networks exist.
func (m *Manager) intact(st *projectState, sb *Sandbox) bool {
	if !netnsMounted(sb.NetNS) {
		return false
	}
	for _, ep := range sb.Endpoints {
		n := networkNamed(st, ep.Network)
		if n == nil {
			return false
		}
		if _, err := netlink.LinkByName(n.Bridge); err != nil {
			return false
		}
	}
	return true
}

// recreateNetNS makes the sandbox's namespace anew at its path, with lo up
// and a veth into each network at the address the allocation records.
func recreateNetNS(st *projectState, sb *Sandbox) error {
	for _, ep := range sb.Endpoints {
		// A host end outlives its namespace for a moment after a kill.
		if l, err := netlink.LinkByName(ep.Veth); err == nil {
			if err := netlink.LinkDel(l); err != nil {
				return fmt.Errorf("removing the stale %s: %w", ep.Veth, err)
			}
		}
	}
	if err := newNetNS(sb.NetNS); err != nil {
		return err
	}
	if err := loUp(sb.NetNS); err != nil {
		return err
	}
	for i, ep := range sb.Endpoints {
		n := networkNamed(st, ep.Network)
		if err := plugVeth(sb.NetNS, n, ep, i, i == 0 && !n.Internal); err != nil {
			return fmt.Errorf("network %s: %w", n.FullName, err)
		}
	}
	return nil
}

// reattachVeths puts the host ends of the sandbox's veths back on their
// bridges.
func reattachVeths(st *projectState, sb *Sandbox) error {
	for _, ep := range sb.Endpoints {
		n := networkNamed(st, ep.Network)
		l, err := netlink.LinkByName(ep.Veth)
		if err != nil {
			return fmt.Errorf("veth %s: %w", ep.Veth, err)
		}
		br, err := netlink.LinkByName(n.Bridge)
		if err != nil {
			return fmt.Errorf("bridge %s: %w", n.Bridge, err)
		}
		if err := netlink.LinkSetMaster(l, br); err != nil {
			return fmt.Errorf("attaching %s to %s: %w", ep.Veth, n.Bridge, err)
		}
		netlink.LinkSetHairpin(l, true)
		if err := netlink.LinkSetUp(l); err != nil {
			return err
		}
	}
	return nil
}

func sandboxAt(st *projectState, nsPath string) *Sandbox {
	if nsPath == "" {
		return nil
	}
	for _, sb := range st.Sandboxes {
		if sb.NetNS == nsPath {
			return sb
		}
	}
	return nil
}

func networkNamed(st *projectState, fullName string) *Network {
	for _, n := range st.Networks {
		if n.FullName == fullName {
			return n
		}
	}
	return nil
}

// netnsMounted says whether a network namespace is bind-mounted at path.
func netnsMounted(path string) bool {
	var fs unix.Statfs_t
	if err := unix.Statfs(path, &fs); err != nil {
		return false
	}
	return fs.Type == unix.NSFS_MAGIC
}
