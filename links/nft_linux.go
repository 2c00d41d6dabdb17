package links

import (
	"fmt"
	"net"
	"slices"
	"sort"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// berth's rules live in the table `ip berth`. Four base chains hook the
// kernel (prerouting and output NAT for published ports, postrouting NAT
// for masquerading, forward filtering for isolation); each project has its
// own regular chains that they jump to, so a project's rules are rebuilt
// from its state in one transaction and removed by deleting its chains.
const tableName = "berth"

var table = &nftables.Table{Name: tableName, Family: nftables.TableFamilyIPv4}

type baseChain struct {
	name     string
	typ      nftables.ChainType
	hook     *nftables.ChainHook
	priority *nftables.ChainPriority
	suffix   string // the project chain it jumps to
}

var baseChains = []baseChain{
	{"prerouting", nftables.ChainTypeNAT, nftables.ChainHookPrerouting, nftables.ChainPriorityNATDest, "dnat"},
	{"output", nftables.ChainTypeNAT, nftables.ChainHookOutput, nftables.ChainPriorityNATDest, "dnat"},
	{"postrouting", nftables.ChainTypeNAT, nftables.ChainHookPostrouting, nftables.ChainPriorityNATSource, "snat"},
	{"forward", nftables.ChainTypeFilter, nftables.ChainHookForward, nftables.ChainPriorityFilter, "fwd"},
}

// projectChain names a project's chain; the root's tag keeps two berth
// roots with a project of the same name apart.
func (m *Manager) projectChain(project, suffix string) string {
	return "p-" + m.tag() + "-" + project + "-" + suffix
}

// ruleOwner marks the rules of a project of this root.
func (m *Manager) ruleOwner(project string) []byte { return []byte(m.tag() + "/" + project) }

func (m *Manager) tag() string { return m.bridgeName("", "")[5:11] }

// writeNetworkRules replaces the project's rules with what its state needs.
func (m *Manager) writeNetworkRules(project string, st *projectState) error {
	if len(st.Networks) == 0 && len(st.Sandboxes) == 0 {
		return m.removeProjectRules(project)
	}
	c, err := nftables.New()
	if err != nil {
		return err
	}
	c.AddTable(table)
	bases := map[string]*nftables.Chain{}
	for _, b := range baseChains {
		bases[b.name] = c.AddChain(&nftables.Chain{Name: b.name, Table: table, Type: b.typ, Hooknum: b.hook, Priority: b.priority})
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nftables table %s: %w", tableName, err)
	}
	mine := map[string]*nftables.Chain{}
	for _, s := range []string{"dnat", "snat", "fwd"} {
		name := m.projectChain(project, s)
		if ch, err := c.ListChain(table, name); err == nil {
			c.FlushChain(ch)
			mine[s] = ch
			continue
		}
		mine[s] = c.AddChain(&nftables.Chain{Name: name, Table: table})
		for _, b := range baseChains {
			if b.suffix == s {
				c.AddRule(&nftables.Rule{Table: table, Chain: bases[b.name], UserData: m.ruleOwner(project),
					Exprs: []expr.Any{&expr.Verdict{Kind: expr.VerdictJump, Chain: name}}})
			}
		}
	}
	add := func(chain string, exprs ...expr.Any) {
		c.AddRule(&nftables.Rule{Table: table, Chain: mine[chain], UserData: m.ruleOwner(project), Exprs: exprs})
	}
	names := make([]string, 0, len(st.Networks))
	for k := range st.Networks {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		n := st.Networks[k]
		if n.Owner != project {
			continue
		}
		_, sn, _ := net.ParseCIDR(n.Subnet)
		br := ifname(n.Bridge)
		// A connection to a published port may cross bridges: the host
		// rewrote its destination, so it is not a container reaching
		// into another network.
		add("fwd", append(append(iif(br), dnatted()...), &expr.Verdict{Kind: expr.VerdictAccept})...)
		// Isolation: nothing else crosses from this bridge to another berth bridge.
		drop := &expr.Verdict{Kind: expr.VerdictDrop}
		add("fwd", append(append(append(iif(br), oifPrefix("berth")...), oifNot(br)...), drop)...)
		if n.Internal {
			// No way out, and no way in but from its own members.
			add("fwd", append(append(iif(br), oifNot(br)...), drop)...)
			add("fwd", append(append(oif(br), iifNot(br)...), drop)...)
			continue
		}
		// Outbound: masquerade what leaves by another interface.
		add("snat", append(append(saddrIn(sn), oifNot(br)...), &expr.Masq{})...)
		// Published ports reached from the host's own 127.0.0.1.
		_, lo, _ := net.ParseCIDR("127.0.0.0/8")
		add("snat", append(append(saddrIn(lo), oifExact(br)...), &expr.Masq{})...)
		// Hairpin: a container reaching a published port through the host.
		add("snat", append(append(append(dnatted(), saddrIn(sn)...), oifExact(br)...), &expr.Masq{})...)
	}
	ids := make([]string, 0, len(st.Sandboxes))
	for id := range st.Sandboxes {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		sb := st.Sandboxes[id]
		for _, p := range sb.Ports {
			add("dnat", dnatRule(p)...)
		}
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("writing nftables rules of project %s: %w", project, err)
	}
	return nil
}

// removeProjectRules deletes the project's chains and the jumps to them.
func (m *Manager) removeProjectRules(project string) error {
	c, err := nftables.New()
	if err != nil {
		return err
	}
	tables, err := c.ListTablesOfFamily(nftables.TableFamilyIPv4)
	if err != nil {
		return err
	}
	found := false
	for _, t := range tables {
		found = found || t.Name == tableName
	}
	if !found {
		return nil
	}
	for _, b := range baseChains {
		ch, err := c.ListChain(table, b.name)
		if err != nil {
			continue
		}
		rules, err := c.GetRules(table, ch)
		if err != nil {
			return err
		}
		for _, r := range rules {
			if string(r.UserData) == string(m.ruleOwner(project)) {
				if err := c.DelRule(r); err != nil {
					return err
				}
			}
		}
	}
	if err := c.Flush(); err != nil {
		return err
	}
	for _, s := range []string{"dnat", "snat", "fwd"} {
		if ch, err := c.ListChain(table, m.projectChain(project, s)); err == nil {
			c.FlushChain(ch)
			c.DelChain(ch)
		}
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("removing nftables rules of project %s: %w", project, err)
	}
	return removeTableIfUnused(c)
}

// removeTableIfUnused deletes berth's table once no project of any root
// has chains or rules in it. Callers hold the host's network lock, under
// which every change to the table is made.
func removeTableIfUnused(c *nftables.Conn) error {
	chains, err := c.ListChainsOfTableFamily(nftables.TableFamilyIPv4)
	if err != nil {
		return err
	}
	for _, ch := range chains {
		if ch.Table.Name != tableName {
			continue
		}
		if !slices.ContainsFunc(baseChains, func(b baseChain) bool { return b.name == ch.Name }) {
			return nil // another project's chain
		}
		rules, err := c.GetRules(table, ch)
		if err != nil {
			return err
		}
		if len(rules) > 0 {
			return nil
		}
	}
	c.DelTable(table)
	if err := c.Flush(); err != nil {
		return fmt.Errorf("removing nftables table %s: %w", tableName, err)
	}
	return nil
}

// ifname pads an interface name as the kernel compares it.
func ifname(n string) []byte {
	b := make([]byte, 16)
	copy(b, n)
	return b
}

func iif(name []byte) []expr.Any {
	return []expr.Any{&expr.Meta{Key: expr.MetaKeyIIFNAME, Register: 1}, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: name}}
}

func iifNot(name []byte) []expr.Any {
	return []expr.Any{&expr.Meta{Key: expr.MetaKeyIIFNAME, Register: 1}, &expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: name}}
}

func oif(name []byte) []expr.Any { return oifExact(name) }

func oifExact(name []byte) []expr.Any {
	return []expr.Any{&expr.Meta{Key: expr.MetaKeyOIFNAME, Register: 1}, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: name}}
}

func oifNot(name []byte) []expr.Any {
	return []expr.Any{&expr.Meta{Key: expr.MetaKeyOIFNAME, Register: 1}, &expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: name}}
}

// oifPrefix matches an output interface whose name starts with prefix, as
// nft's "berth*" does: the comparison covers only the prefix's bytes.
func oifPrefix(prefix string) []expr.Any {
	return []expr.Any{&expr.Meta{Key: expr.MetaKeyOIFNAME, Register: 1}, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte(prefix)}}
}

func saddrIn(sn *net.IPNet) []expr.Any {
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: sn.Mask, Xor: []byte{0, 0, 0, 0}},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: sn.IP.To4()},
	}
}

// dnatted matches connections whose destination was rewritten.
func dnatted() []expr.Any {
	return []expr.Any{
		&expr.Ct{Register: 1, Key: expr.CtKeySTATUS},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: binaryutil.NativeEndian.PutUint32(0x20), Xor: []byte{0, 0, 0, 0}},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: []byte{0, 0, 0, 0}},
	}
}

// dnatRule sends a host port to the container: to any local address of
// the host (fib daddr type local), or to the given host IP only.
func dnatRule(p Port) []expr.Any {
	var e []expr.Any
	if p.HostIP == "" || p.HostIP == "0.0.0.0" {
		e = append(e,
			&expr.Fib{Register: 1, FlagDADDR: true, ResultADDRTYPE: true},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(unix.RTN_LOCAL)},
		)
	} else {
		e = append(e,
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: net.ParseIP(p.HostIP).To4()},
		)
	}
	proto := byte(unix.IPPROTO_TCP)
	if p.Protocol == "udp" {
		proto = unix.IPPROTO_UDP
	}
	return append(e,
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{proto}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint16(uint16(p.HostPort))},
		&expr.Immediate{Register: 1, Data: net.ParseIP(p.ContainerIP).To4()},
		&expr.Immediate{Register: 2, Data: binaryutil.BigEndian.PutUint16(uint16(p.ContainerPort))},
		&expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: 1, RegProtoMin: 2, Specified: true},
	)
}
