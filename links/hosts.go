package links

import (
	"fmt"
	"os"
	"sort"
	"strings"
)

// Service discovery: each container gets an /etc/hosts with the names that
// have one address (container names, <service>-<n>), rewritten in place
// (same inode: it is bind-mounted) whenever a container of the project
// comes or goes, and a names file with every name, service names and
// aliases included, that the container's embedded name server (run by its
// monitor, at 127.0.0.11) answers from. Service names go to the name
// server because hosts-file lookups stop at the first match: the server
// returns every replica, rotating.

// HostsEntries computes the hosts lines for the container sb of a
// project: itself, then every container sharing a network with it, under
// its name, service, aliases, <service>-<n>, and sb's links aliases.
func HostsEntries(sb *Sandbox, all []*Sandbox) []string { return entries(sb, all, true) }

// HostsFileEntries are the lines for a container's /etc/hosts when an
// embedded name server answers for services: only names with one
// address (container names, <service>-<n>, hostnames), so that service
// names and aliases, which may have several, are asked of the name server
// and rotate across replicas.
func HostsFileEntries(sb *Sandbox, all []*Sandbox) []string { return entries(sb, all, false) }

func entries(sb *Sandbox, all []*Sandbox, shared bool) []string {
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
				if shared {
					names = append(names, other.Service)
				}
				names = append(names, fmt.Sprintf("%s-%d", other.Service, other.Number), fmt.Sprintf("%s_%d", other.Service, other.Number))
			}
			if shared {
				names = append(names, ep.Aliases...)
				names = append(names, aliases[other.Service]...)
			}
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
