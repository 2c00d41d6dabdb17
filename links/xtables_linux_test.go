package links

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"
)

// TestForwardRulesRead pins the reading of iptables' FORWARD chain that
// spares berth two iptables runs per rule at every network set-up: in
// each installed variant that has a filter table, the bridge's rules are
// found once allowForwarding put them there and not after
// revokeForwarding, as iptables -C finds them.
func TestForwardRulesRead(t *testing.T) {
	requireRoot(t)
	ctx := context.Background()
	b := make([]byte, 4)
	rand.Read(b)
	bridge := "berthtst" + hex.EncodeToString(b)[:7] // no such interface: the rules match nothing
	t.Cleanup(func() { revokeForwarding(ctx, bridge) })
	if err := allowForwarding(ctx, bridge); err != nil {
		t.Fatal(err)
	}
	tried := 0
	for _, x := range iptablesVariants(ctx) {
		if !x.hasFilterTable() {
			continue
		}
		tried++
		have, ok := x.forwardRulesPresent(bridge)
		if !ok {
			t.Errorf("%s: the FORWARD chain could not be read", x.bin)
			continue
		}
		for i, r := range forwardRules(bridge) {
			byC := x.run(ctx, append([]string{"-C", "FORWARD"}, r...)...) == nil
			if have[i] != byC || !byC {
				t.Errorf("%s: rule %d read as present=%v, iptables -C says %v", x.bin, i, have[i], byC)
			}
		}
	}
	if tried == 0 {
		t.Fatal("no iptables variant with a filter table after allowForwarding")
	}
	if err := revokeForwarding(ctx, bridge); err != nil {
		t.Fatal(err)
	}
	for _, x := range iptablesVariants(ctx) {
		if !x.hasFilterTable() {
			continue
		}
		if have, ok := x.forwardRulesPresent(bridge); !ok || have[0] || have[1] {
			t.Errorf("%s: after revokeForwarding read %v (ok %v)", x.bin, have, ok)
		}
	}
}
