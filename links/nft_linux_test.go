package links

import (
	"os"
	"testing"

	"github.com/google/nftables"
)

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("root test in CI without root")
		}
		t.Skip("needs root")
	}
}

// handles lists the handles of the rules of a chain of berth's table,
// which a rewrite of the chain changes.
func handles(t *testing.T, chain string) []uint64 {
	t.Helper()
	c, err := nftables.New()
	if err != nil {
		t.Fatal(err)
	}
	rules, err := c.GetRules(table, &nftables.Chain{Name: chain, Table: table})
	if err != nil {
		t.Fatalf("rules of %s: %v", chain, err)
	}
	var out []uint64
	for _, r := range rules {
		out = append(out, r.Handle)
	}
	return out
}

func sameHandles(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestRulesRewrittenOnlyWhereChanged pins that writing a project's rules
// again leaves the chains whose rules are unchanged alone (a rewrite makes
// the kernel wait out an RCU grace period, once per container started),
// rewrites the chain a published port changes, and puts back rules that
// something removed.
func TestRulesRewrittenOnlyWhereChanged(t *testing.T) {
	requireRoot(t)
	m, err := Open(t.TempDir(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	const project = "nftwrite"
	st := &projectState{
		Networks:  map[string]*Network{"default": {Project: project, Name: "default", FullName: project + "_default", Bridge: m.bridgeName(project, "default"), Subnet: "10.213.250.0/24", Gateway: "10.213.250.1", Owner: project}},
		Sandboxes: map[string]*Sandbox{"a": {ContainerID: "a", Endpoints: []Endpoint{{IP: "10.213.250.2"}}}},
	}
	unlock, err := m.lock()
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	t.Cleanup(func() {
		if err := m.removeProjectRules(project); err != nil {
			t.Error(err)
		}
	})
	if err := m.writeNetworkRules(project, st); err != nil {
		t.Fatal(err)
	}
	fwd, snat, guard := handles(t, m.projectChain(project, "fwd")), handles(t, m.projectChain(project, "snat")), handles(t, guardChain)
	if len(fwd) == 0 || len(snat) == 0 || len(guard) != 1 {
		t.Fatalf("rules missing: fwd %v snat %v guard %v", fwd, snat, guard)
	}

	// A container without ports changes no rule.
	st.Sandboxes["b"] = &Sandbox{ContainerID: "b", Endpoints: []Endpoint{{IP: "10.213.250.3"}}}
	if err := m.writeNetworkRules(project, st); err != nil {
		t.Fatal(err)
	}
	if !sameHandles(fwd, handles(t, m.projectChain(project, "fwd"))) || !sameHandles(snat, handles(t, m.projectChain(project, "snat"))) || !sameHandles(guard, handles(t, guardChain)) {
		t.Error("unchanged chains were rewritten")
	}

	// A published port rewrites the dnat chain only.
	st.Sandboxes["b"].Ports = []Port{{HostPort: 1, ContainerPort: 80, Protocol: "tcp", ContainerIP: "10.213.250.3"}}
	if err := m.writeNetworkRules(project, st); err != nil {
		t.Fatal(err)
	}
	if n := len(handles(t, m.projectChain(project, "dnat"))); n != 1 {
		t.Errorf("dnat chain has %d rules, want 1", n)
	}
	if !sameHandles(fwd, handles(t, m.projectChain(project, "fwd"))) {
		t.Error("the fwd chain was rewritten for a port")
	}
	st.Sandboxes["b"].Ports = nil
	if err := m.writeNetworkRules(project, st); err != nil {
		t.Fatal(err)
	}
	if n := len(handles(t, m.projectChain(project, "dnat"))); n != 0 {
		t.Errorf("dnat chain has %d rules after the port went, want 0", n)
	}

	// Rules come back when something flushed them (the project's own
	// chain here: the guard protects the whole host meanwhile).
	c, err := nftables.New()
	if err != nil {
		t.Fatal(err)
	}
	c.FlushChain(&nftables.Chain{Name: m.projectChain(project, "snat"), Table: table})
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := m.writeNetworkRules(project, st); err != nil {
		t.Fatal(err)
	}
	if n := len(handles(t, m.projectChain(project, "snat"))); n != len(snat) {
		t.Errorf("snat chain has %d rules after a rewrite, want %d", n, len(snat))
	}
}
