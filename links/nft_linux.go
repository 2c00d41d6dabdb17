package links

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"maps"
	"net"
	"slices"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// berth's rules live in the table `ip berth`. Five base chains hook the
// kernel: guard drops what must never be routed (before conntrack, so it
// leaves no trace there), prerouting and output NAT published ports,
// postrouting masquerades, forward filters for isolation. Each project has
// its own regular chains that the base chains jump to, so a project's rules
// are rebuilt from its state in one transaction and removed by deleting its
// chains.
const tableName = "berth"

var table = &nftables.Table{Name: tableName, Family: nftables.TableFamilyIPv4}

type baseChain struct {
	name     string
	typ      nftables.ChainType
	hook     *nftables.ChainHook
	priority *nftables.ChainPriority
	suffixes []string // the project chains it jumps to
}

// guardChain holds the table's own rules, which belong to no project.
const guardChain = "guard"

var baseChains = []baseChain{
	{guardChain, nftables.ChainTypeFilter, nftables.ChainHookPrerouting, nftables.ChainPriorityRaw, nil},
	{"prerouting", nftables.ChainTypeNAT, nftables.ChainHookPrerouting, nftables.ChainPriorityNATDest, []string{"dnat"}},
	// Ports published on a loopback address are for the host's own
	// traffic: their rules are in lodnat, which only output reaches.
	{"output", nftables.ChainTypeNAT, nftables.ChainHookOutput, nftables.ChainPriorityNATDest, []string{"dnat", "lodnat"}},
	{"postrouting", nftables.ChainTypeNAT, nftables.ChainHookPostrouting, nftables.ChainPriorityNATSource, []string{"snat"}},
	{"forward", nftables.ChainTypeFilter, nftables.ChainHookForward, nftables.ChainPriorityFilter, []string{"fwd"}},
}

// projectSuffixes are the chains each project has.
var projectSuffixes = []string{"dnat", "lodnat", "snat", "fwd"}

// projectChain names a project's chain; the root's tag keeps two berth
// roots with a project of the same name apart.
func (m *Manager) projectChain(project, suffix string) string {
	return "p-" + m.tag() + "-" + project + "-" + suffix
}

// ruleOwner marks the rules of a project of this root.
func (m *Manager) ruleOwner(project string) []byte { return []byte(m.tag() + "/" + project) }

func (m *Manager) tag() string { return m.bridgeName("", "")[5:11] }

// writeNetworkRules makes the project's rules what its state needs. Only
// the chains whose rules differ are rewritten: replacing a rule makes the
// kernel wait out an RCU grace period before the transaction returns
// (3-20 ms on a busy host), and most changes (a container with no
// published port coming or going, a network brought up again) change no
// rule at all. Each rule of a project chain carries, beside its owner, a
// digest of the whole chain's rules as written, which is how an unchanged
// chain is told without decoding its rules.
func (m *Manager) writeNetworkRules(project string, st *projectState) error {
	if len(st.Networks) == 0 && len(st.Sandboxes) == 0 {
		return m.removeProjectRules(project)
	}
	want := m.projectRules(project, st)
	c, err := nftables.New()
	if err != nil {
		return err
	}
	chains, err := c.ListChainsOfTableFamily(nftables.TableFamilyIPv4)
	if err != nil {
		return fmt.Errorf("nftables table %s: %w", tableName, err)
	}
	have := map[string]*nftables.Chain{}
	for _, ch := range chains {
		if ch.Table.Name == tableName {
			have[ch.Name] = ch
		}
	}
	dirty := false
	bases := map[string]*nftables.Chain{}
	for _, b := range baseChains {
		if ch := have[b.name]; ch != nil {
			bases[b.name] = ch
			continue
		}
		if !dirty {
			c.AddTable(table)
			dirty = true
		}
		bases[b.name] = c.AddChain(&nftables.Chain{Name: b.name, Table: table, Type: b.typ, Hooknum: b.hook, Priority: b.priority})
	}
	// Bridges route 127.0.0.0/8 (route_localnet, which publishing on
	// 127.0.0.1 needs for its replies): without this rule a container, or
	// a LAN neighbour, that sends frames to the host addressed to
	// 127.0.0.1 reaches the host's loopback-only services (the
	// CVE-2020-8558 class). Only the host itself talks to 127.0.0.0/8; the
	// replies of its connections to a published port come back addressed
	// to the gateway and become 127.0.0.1 only later, in conntrack's NAT.
	guard := [][]expr.Any{append(append(iifNot(ifname("lo")), daddrIn(loopbackNet)...), &expr.Verdict{Kind: expr.VerdictDrop})}
	w, err := m.syncChain(c, have[guardChain] != nil, bases[guardChain], guard, []byte(guardChain))
	if err != nil {
		return fmt.Errorf("nftables table %s: %w", tableName, err)
	}
	dirty = dirty || w
	for _, s := range projectSuffixes {
		name := m.projectChain(project, s)
		ch := have[name]
		if ch == nil {
			ch = c.AddChain(&nftables.Chain{Name: name, Table: table})
			dirty = true
			for _, b := range baseChains {
				if slices.Contains(b.suffixes, s) {
					c.AddRule(&nftables.Rule{Table: table, Chain: bases[b.name], UserData: m.ruleOwner(project),
						Exprs: []expr.Any{&expr.Verdict{Kind: expr.VerdictJump, Chain: name}}})
				}
			}
		}
		w, err := m.syncChain(c, have[name] != nil, ch, want[s], m.ruleOwner(project))
		if err != nil {
			return fmt.Errorf("nftables rules of project %s: %w", project, err)
		}
		dirty = dirty || w
	}
	if !dirty {
		return nil
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("writing nftables rules of project %s: %w", project, err)
	}
	return nil
}

// syncChain queues on c what makes chain hold rules, owned by owner: nothing
// when the chain (which exists when exists) already holds them as written
// last, else a flush of the chain and the rules. It reports whether it
// queued anything.
func (m *Manager) syncChain(c *nftables.Conn, exists bool, chain *nftables.Chain, rules [][]expr.Any, owner []byte) (bool, error) {
	mark, err := rulesMark(owner, rules)
	if err != nil {
		return false, err
	}
	if exists {
		got, err := c.GetRules(table, chain)
		if err != nil {
			return false, err
		}
		same := len(got) == len(rules)
		for _, r := range got {
			same = same && (bytes.Equal(r.UserData, mark) || legacyGuard(owner, got))
		}
		if same {
			return false, nil
		}
		if len(got) > 0 {
			c.FlushChain(chain)
		}
	}
	for _, r := range rules {
		c.AddRule(&nftables.Rule{Table: table, Chain: chain, UserData: mark, Exprs: r})
	}
	return exists || len(rules) > 0, nil
}

// legacyGuard says whether rules are the guard as berth wrote it before
// rules carried a mark: the one rule of the guard chain, which only berth
// writes, with no user data. Rewriting it would cost as much as any chain,
// and a host where berths of both kinds run would rewrite it every time.
func legacyGuard(owner []byte, rules []*nftables.Rule) bool {
	return string(owner) == guardChain && len(rules) == 1 && len(rules[0].UserData) == 0
}

// rulesMark is the user data of the rules of a chain: their owner, then a
// digest of the rules in their kernel encoding.
func rulesMark(owner []byte, rules [][]expr.Any) ([]byte, error) {
	h := sha256.New()
	for _, r := range rules {
		for _, e := range r {
			b, err := expr.Marshal(byte(nftables.TableFamilyIPv4), e)
			if err != nil {
				return nil, err
			}
			fmt.Fprintf(h, "%d:", len(b))
			h.Write(b)
		}
		h.Write([]byte{'\n'})
	}
	return fmt.Appendf(bytes.Clone(owner), "#%x", h.Sum(nil)[:8]), nil
}

// projectRules are the rules of the project's chains, by chain suffix.
func (m *Manager) projectRules(project string, st *projectState) map[string][][]expr.Any {
	out := map[string][][]expr.Any{}
	add := func(chain string, exprs ...expr.Any) { out[chain] = append(out[chain], exprs) }
	names := slices.Sorted(maps.Keys(st.Networks))
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
		add("snat", append(append(saddrIn(loopbackNet), oifExact(br)...), &expr.Masq{})...)
		// Hairpin: a container reaching a published port through the host.
		add("snat", append(append(append(dnatted(), saddrIn(sn)...), oifExact(br)...), &expr.Masq{})...)
	}
	ids := slices.Sorted(maps.Keys(st.Sandboxes))
	for _, id := range ids {
		sb := st.Sandboxes[id]
		for _, p := range sb.Ports {
			if ip := net.ParseIP(p.HostIP); ip != nil && ip.IsLoopback() {
				add("lodnat", dnatRule(p)...)
			} else {
				add("dnat", dnatRule(p)...)
			}
		}
	}
	return out
}

// removeProjectRules deletes the project's chains and the jumps to them,
// and berth's table once no project of any root has chains or rules in it,
// in one transaction: a transaction that deletes rules waits out an RCU
// grace period when it is committed. Callers hold the host's network
// lock, under which every change to the table is made.
func (m *Manager) removeProjectRules(project string) error {
	c, err := nftables.New()
	if err != nil {
		return err
	}
	chains, err := c.ListChainsOfTableFamily(nftables.TableFamilyIPv4)
	if err != nil {
		return err
	}
	mine := map[string]bool{}
	for _, s := range projectSuffixes {
		mine[m.projectChain(project, s)] = true
	}
	found, used, dirty := false, false, false
	var drop []*nftables.Chain
	// The jumps go first in the transaction: a chain is deleted only
	// once nothing jumps to it.
	for _, ch := range chains {
		if ch.Table.Name != tableName {
			continue
		}
		found = true
		switch {
		case mine[ch.Name]:
			drop = append(drop, ch)
		case !slices.ContainsFunc(baseChains, func(b baseChain) bool { return b.name == ch.Name }):
			used = true // another project's chain
		case ch.Name != guardChain:
			rules, err := c.GetRules(table, ch)
			if err != nil {
				return err
			}
			for _, r := range rules {
				if string(r.UserData) != string(m.ruleOwner(project)) {
					used = true
					continue
				}
				if err := c.DelRule(r); err != nil {
					return err
				}
				dirty = true
			}
		}
	}
	if !found {
		return nil
	}
	for _, ch := range drop {
		c.FlushChain(ch)
		c.DelChain(ch)
		dirty = true
	}
	if !used {
		c.DelTable(table)
		dirty = true
	}
	if !dirty {
		return nil
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("removing nftables rules of project %s: %w", project, err)
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

var loopbackNet = &net.IPNet{IP: net.IPv4(127, 0, 0, 0).To4(), Mask: net.CIDRMask(8, 32)}

func daddrIn(sn *net.IPNet) []expr.Any {
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4},
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
