package links

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/google/nftables"
)

// A Docker engine on the same host sets the iptables FORWARD policy to
// DROP, and with br_netfilter (bridge-nf-call-iptables=1) even traffic
// between two containers on one bridge passes that chain. An accept in
// berth's own nftables table cannot overrule it: every base chain on a
// hook sees the packet, and a drop in any of them is final (lxd#8716). So,
// as LXD's and netavark's iptables drivers do, berth puts accept rules for
// its bridges at the top of iptables' FORWARD chain, in each variant
// (nf_tables or legacy) that has a filter table, and always in the
// `iptables` on PATH, which is what a Docker started later would use. They
// only open what iptables would otherwise drop; berth's isolation rules
// stay in its own table, where a drop still wins.

// forwardRules are the FORWARD rules for a bridge: whatever leaves it
// (outbound, between its containers, hairpin), and what comes back on
// connections made through it or to one of its published ports.
func forwardRules(bridge string) [][]string {
	comment := []string{"-m", "comment", "--comment", "berth " + bridge}
	return [][]string{
		append([]string{"-i", bridge}, append(comment, "-j", "ACCEPT")...),
		append([]string{"-o", bridge, "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED,DNAT"}, append(comment, "-j", "ACCEPT")...),
	}
}

// xtables is one installed iptables variant.
type xtables struct {
	bin    string // the command
	nft    bool   // nf_tables rather than legacy
	always bool   // the host's default iptables
}

var (
	variantsOnce sync.Once
	variants     []xtables
)

// iptablesVariants lists the installed iptables variants, one per kind.
// Which kind a command is, Debian's alternatives tell by the binary the
// command links to (xtables-nft-multi or xtables-legacy-multi); only a
// command that does not say so is asked with -V. A process asks once.
func iptablesVariants(ctx context.Context) []xtables {
	variantsOnce.Do(func() {
		for _, bin := range []string{"iptables", "iptables-nft", "iptables-legacy"} {
			path, err := exec.LookPath(bin)
			if err != nil {
				continue
			}
			x := xtables{bin: path, always: bin == "iptables"}
			real, _ := filepath.EvalSymlinks(path)
			switch base := filepath.Base(real); {
			case strings.Contains(base, "nft"):
				x.nft = true
			case strings.Contains(base, "legacy"):
			default:
				v, err := exec.CommandContext(ctx, path, "-V").Output()
				if err != nil {
					continue
				}
				x.nft = bytes.Contains(v, []byte("nf_tables"))
			}
			if !slices.ContainsFunc(variants, func(y xtables) bool { return y.nft == x.nft }) {
				variants = append(variants, x)
			}
		}
	})
	return variants
}

// hasFilterTable reports whether anything made the variant's filter table,
// the only place that can drop berth's forwarded traffic.
func (x xtables) hasFilterTable() bool {
	if !x.nft {
		b, err := os.ReadFile("/proc/net/ip_tables_names")
		return err == nil && slices.Contains(strings.Fields(string(b)), "filter")
	}
	c, err := nftables.New()
	if err != nil {
		return false
	}
	tables, err := c.ListTablesOfFamily(nftables.TableFamilyIPv4)
	if err != nil {
		return false
	}
	return slices.ContainsFunc(tables, func(t *nftables.Table) bool { return t.Name == "filter" })
}

// forwardRulesPresent reads, without running iptables, which of the
// bridge's forwardRules the variant's FORWARD chain holds: an iptables run
// costs a process start, two per rule, at every network set-up. ok is
// false when the chain could not be read, and iptables -C must tell.
func (x xtables) forwardRulesPresent(bridge string) (have [2]bool, ok bool) {
	n, ok := x.forwardRulesCount(bridge)
	return [2]bool{n[0] > 0, n[1] > 0}, ok
}

// forwardRulesCount is forwardRulesPresent counting the copies of each
// rule.
func (x xtables) forwardRulesCount(bridge string) (n [2]int, ok bool) {
	var found []forwardRule
	var err error
	if x.nft {
		found, err = nftForwardRules()
	} else {
		found, err = legacyForwardRules()
	}
	if err != nil {
		return n, false
	}
	for _, r := range found {
		if r.comment != "berth "+bridge || !r.accept {
			continue
		}
		switch bridge {
		case r.in:
			n[0]++
		case r.out:
			n[1]++
		}
	}
	return n, true
}

// forwardRule is what identifies one of berth's rules in a FORWARD chain:
// its comment names the bridge, the input interface marks the first rule
// and the output interface the second.
type forwardRule struct {
	in, out, comment string
	accept           bool
}

func (x xtables) run(ctx context.Context, args ...string) error {
	out, err := exec.CommandContext(ctx, x.bin, append([]string{"-w", "-t", "filter"}, args...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w: %s", x.bin, strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

// allowForwarding makes sure iptables' FORWARD chains let the bridge's
// traffic through. A variant without a filter table drops nothing, so its
// errors do not matter.
func allowForwarding(ctx context.Context, bridge string) error {
	var errs []error
	for _, x := range iptablesVariants(ctx) {
		present := x.hasFilterTable()
		if !present && !x.always {
			continue
		}
		rules := forwardRules(bridge)
		var have [2]bool
		known := false
		if present {
			have, known = x.forwardRulesPresent(bridge)
		}
		// Inserted last rule first, so they keep their order at the top.
		for i := len(rules) - 1; i >= 0; i-- {
			if have[i] || !known && x.run(ctx, append([]string{"-C", "FORWARD"}, rules[i]...)...) == nil {
				continue
			}
			if err := x.run(ctx, append([]string{"-I", "FORWARD", "1"}, rules[i]...)...); err != nil && present {
				errs = append(errs, err)
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("letting bridge %s through iptables' FORWARD chain: %w", bridge, err)
	}
	return nil
}

// revokeForwarding removes the bridge's FORWARD rules from every variant.
func revokeForwarding(ctx context.Context, bridge string) error {
	var errs []error
	for _, x := range iptablesVariants(ctx) {
		if !x.hasFilterTable() {
			continue
		}
		if x.nft && deleteNftForwardRules(bridge) == nil {
			continue
		}
		if n, ok := x.forwardRulesCount(bridge); ok {
			// Read: each copy goes with one -D, without asking -C first.
			for i, r := range forwardRules(bridge) {
				for range n[i] {
					if err := x.run(ctx, append([]string{"-D", "FORWARD"}, r...)...); err != nil {
						errs = append(errs, err)
						break
					}
				}
			}
			continue
		}
		for _, r := range forwardRules(bridge) {
			// -D removes one copy at a time.
			for x.run(ctx, append([]string{"-C", "FORWARD"}, r...)...) == nil {
				if err := x.run(ctx, append([]string{"-D", "FORWARD"}, r...)...); err != nil {
					errs = append(errs, err)
					break
				}
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("removing the iptables FORWARD rules of bridge %s: %w", bridge, err)
	}
	return nil
}
