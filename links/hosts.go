package links

import (
	"fmt"
	"os"
	"sort"
	"strings"
)

// Service discovery is an /etc/hosts file per container, rewritten in
// place (same inode: it is bind-mounted into the container) whenever a
// container of the project comes or goes. It needs no process of its own
// and works with every resolver; its limit is that a name with several
// addresses (the replicas of a scaled service) is answered with the first
// by resolvers that stop at the first match: each replica is also reachable
// as <service>-<n>.

// HostsEntries computes the hosts lines for the container sb of a
// project: itself, then every container sharing a network with it, under
// its name, service, aliases, <service>-<n>, and sb's links aliases.
func HostsEntries(sb *Sandbox, all []*Sandbox) []string {
	lines := []string{"127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback"}
	mine := map[string]bool{}
	for _, ep := range sb.Endpoints {
		mine[ep.Network] = true
	}
	aliases := map[string][]string{} // service -> link aliases
	for _, l := range sb.Links {
		svc, alias, ok := strings.Cut(l, ":")
		if ok && alias != svc {
			aliases[svc] = append(aliases[svc], alias)
		}
	}
	if len(sb.Endpoints) > 0 && sb.Hostname != "" {
		lines = append(lines, sb.Endpoints[0].IP+"\t"+sb.Hostname)
	}
	sorted := append([]*Sandbox{}, all...)
	sort.Slice(sorted, func(i, j int) bool {
		if sorted[i].Service != sorted[j].Service {
			return sorted[i].Service < sorted[j].Service
		}
		return sorted[i].Number < sorted[j].Number
	})
	for _, other := range sorted {
		for _, ep := range other.Endpoints {
			if !mine[ep.Network] {
				continue
			}
			names := []string{other.ContainerName}
			if other.Service != "" {
				names = append(names, other.Service, fmt.Sprintf("%s-%d", other.Service, other.Number), fmt.Sprintf("%s_%d", other.Service, other.Number))
			}
			names = append(names, ep.Aliases...)
			names = append(names, aliases[other.Service]...)
			if other.Hostname != "" && other.Hostname != sb.Hostname {
				names = append(names, other.Hostname)
			}
			lines = append(lines, ep.IP+"\t"+strings.Join(dedupe(names), " "))
			break
		}
	}
	for _, h := range sb.ExtraHosts {
		name, ip, ok := strings.Cut(h, ":")
		if ok {
			lines = append(lines, ip+"\t"+name)
		}
	}
	return lines
}

func dedupe(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range in {
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// WriteInPlace replaces a file's content without replacing the file, so a
// bind mount of it sees the change.
func WriteInPlace(path string, content []byte) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.WriteAt(content, 0); err != nil {
		f.Close()
		return err
	}
	if err := f.Truncate(int64(len(content))); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
