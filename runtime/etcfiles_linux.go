package runtime

import (
	"os"
	"path/filepath"
)

// EtcMounts are the bind mounts that give a container its /etc/hosts,
// /etc/resolv.conf and /etc/hostname: those its Spec mounts itself, else
// the files berth wrote for it. A container that joins another's network
// namespace mounts these, as Docker has it share the other's files.
func (i Info) EtcMounts() []Mount {
	var out []Mount
	for _, f := range etcFiles {
		if m, ok := mountOn(i.Spec.Mounts, f.target); ok {
			out = append(out, m)
			continue
		}
		if f.name == "hostname" && i.Spec.Network == NetworkHost && i.Spec.Hostname == "" {
			continue // it sees the host's name, not a file of berth's
		}
		out = append(out, Mount{Type: "bind", Source: filepath.Join(i.Dir, f.name), Target: f.target})
	}
	return out
}

// EtcHostname is the host name a container runs with.
func (i Info) EtcHostname() string {
	switch {
	case i.Spec.Hostname != "":
		return i.Spec.Hostname
	case i.Spec.Network == NetworkHost:
		h, _ := os.Hostname()
		return h
	}
	return shortID(i.ID)
}

// IsEtcTarget says whether target is one of the /etc files berth gives
// each container (hosts, resolv.conf, hostname): they belong to the
// container's network identity, not to its volumes.
func IsEtcTarget(target string) bool {
	for _, f := range etcFiles {
		if filepath.Clean(target) == f.target {
			return true
		}
	}
	return false
}

func mountOn(ms []Mount, target string) (Mount, bool) {
	var found Mount
	ok := false
	for _, m := range ms {
		if m.Type == "bind" && filepath.Clean(m.Target) == target {
			found, ok = m, true // the last one is what the container sees
		}
	}
	return found, ok
}
