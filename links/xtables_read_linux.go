package links

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"unsafe"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/xt"
	"golang.org/x/sys/unix"
)

// nftForwardRules reads the FORWARD chain of iptables-nft's filter table.
// iptables-nft writes -i and -o as meta iifname/oifname compared to the
// name (with its NUL), the ACCEPT target as a verdict, and a comment as
// xtables' comment match or, in some versions, as the rule's user data
// (type 0, length, the text with its NUL).
func nftForwardRules() ([]forwardRule, error) {
	c, err := nftables.New()
	if err != nil {
		return nil, err
	}
	out, _, err := readNftForward(c)
	return out, err
}

// deleteNftForwardRules deletes the bridge's rules from iptables-nft's
// FORWARD chain through netlink, in one transaction, as iptables -D would
// one run at a time.
func deleteNftForwardRules(bridge string) error {
	c, err := nftables.New()
	if err != nil {
		return err
	}
	found, rules, err := readNftForward(c)
	if err != nil {
		return err
	}
	n := 0
	for i, r := range found {
		if r.comment == "berth "+bridge && r.accept && (r.in == bridge || r.out == bridge) {
			if err := c.DelRule(rules[i]); err != nil {
				return err
			}
			n++
		}
	}
	if n == 0 {
		return nil
	}
	return c.Flush()
}

func readNftForward(c *nftables.Conn) ([]forwardRule, []*nftables.Rule, error) {
	filter := &nftables.Table{Name: "filter", Family: nftables.TableFamilyIPv4}
	rules, err := c.GetRules(filter, &nftables.Chain{Name: "FORWARD", Table: filter})
	if err != nil {
		return nil, nil, err
	}
	var out []forwardRule
	for _, r := range rules {
		var fr forwardRule
		var key expr.MetaKey
		for _, e := range r.Exprs {
			switch e := e.(type) {
			case *expr.Meta:
				key = e.Key
			case *expr.Cmp:
				name := string(bytes.TrimRight(e.Data, "\x00"))
				if e.Op == expr.CmpOpEq && key == expr.MetaKeyIIFNAME {
					fr.in = name
				} else if e.Op == expr.CmpOpEq && key == expr.MetaKeyOIFNAME {
					fr.out = name
				}
				key = 0
			case *expr.Match:
				if c, ok := e.Info.(*xt.Comment); ok && e.Name == "comment" {
					fr.comment = string(*c)
				}
				key = 0
			case *expr.Verdict:
				fr.accept = e.Kind == expr.VerdictAccept
			default:
				key = 0
			}
		}
		if c := udataComment(r.UserData); c != "" {
			fr.comment = c
		}
		out = append(out, fr)
	}
	return out, rules, nil
}

// udataComment finds the comment among a rule's user data TLVs.
func udataComment(b []byte) string {
	for len(b) >= 2 {
		typ, n := b[0], int(b[1])
		if len(b) < 2+n {
			break
		}
		if typ == 0 {
			return string(bytes.TrimRight(b[2:2+n], "\x00"))
		}
		b = b[2+n:]
	}
	return ""
}

// The legacy kernel interface (linux/netfilter_ipv4/ip_tables.h): a
// table's rules are read with two getsockopt calls on a raw socket.
const (
	iptSoGetInfo    = 64
	iptSoGetEntries = 65
	nfInetForward   = 2
	// ipt_entry: struct ipt_ip (84 bytes), nfcache, target_offset,
	// next_offset, comefrom, counters; its matches follow at 112.
	iptEntrySize     = 112
	iptTargetOffset  = 88
	iptNextOffset    = 90
	iptIniface       = 16
	iptOutiface      = 32
	xtMatchHeader    = 32 // u16 size, name[29], revision
	xtTargetNameSize = 29
)

type iptGetinfo struct {
	Name       [32]byte
	ValidHooks uint32
	HookEntry  [5]uint32
	Underflow  [5]uint32
	NumEntries uint32
	Size       uint32
}

// legacyForwardRules reads the FORWARD chain of the legacy filter table.
// Callers make sure the table exists: asking for a missing one loads it.
func legacyForwardRules() ([]forwardRule, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_RAW)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	var info iptGetinfo
	copy(info.Name[:], "filter")
	l := uint32(unsafe.Sizeof(info))
	if err := getsockopt(fd, iptSoGetInfo, unsafe.Pointer(&info), &l); err != nil {
		return nil, fmt.Errorf("reading the legacy filter table: %w", err)
	}
	// struct ipt_get_entries: name[32], size, then the entries, aligned
	// to 8.
	buf := make([]byte, 40+info.Size)
	copy(buf, "filter")
	binary.NativeEndian.PutUint32(buf[32:], info.Size)
	l = uint32(len(buf))
	if err := getsockopt(fd, iptSoGetEntries, unsafe.Pointer(&buf[0]), &l); err != nil {
		return nil, fmt.Errorf("reading the legacy filter table: %w", err)
	}
	entries := buf[40:]
	from, to := info.HookEntry[nfInetForward], info.Underflow[nfInetForward]
	var out []forwardRule
	for off := from; off < to && int(off)+iptEntrySize <= len(entries); {
		e := entries[off:]
		target := int(binary.NativeEndian.Uint16(e[iptTargetOffset:]))
		next := int(binary.NativeEndian.Uint16(e[iptNextOffset:]))
		if next <= 0 || target < iptEntrySize || target > next || int(off)+next > len(entries) {
			return nil, fmt.Errorf("reading the legacy filter table: a malformed entry at %d", off)
		}
		fr := forwardRule{in: cString(e[iptIniface : iptIniface+16]), out: cString(e[iptOutiface : iptOutiface+16])}
		for m := iptEntrySize; m+xtMatchHeader <= target; {
			size := int(binary.NativeEndian.Uint16(e[m:]))
			if size < xtMatchHeader || m+size > target {
				break
			}
			if cString(e[m+2:m+2+29]) == "comment" {
				fr.comment = cString(e[m+xtMatchHeader : m+size])
			}
			m += size
		}
		// A standard target (empty name) holds its verdict: ACCEPT is
		// -NF_ACCEPT-1.
		if target+xtMatchHeader+4 <= next && cString(e[target+2:target+2+xtTargetNameSize]) == "" {
			fr.accept = int32(binary.NativeEndian.Uint32(e[target+xtMatchHeader:])) == -2
		}
		out = append(out, fr)
		off += uint32(next)
	}
	return out, nil
}

func getsockopt(fd, opt int, p unsafe.Pointer, l *uint32) error {
	_, _, errno := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(fd), unix.SOL_IP, uintptr(opt), uintptr(p), uintptr(unsafe.Pointer(l)), 0)
	if errno != 0 {
		return errno
	}
	return nil
}

func cString(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}
