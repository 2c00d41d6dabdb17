package runtime

import (
	"github.com/berthdev/berth/runtime/seccomp"
	"github.com/opencontainers/runc/libcontainer/configs"
)

// SeccompSupported reports whether this berth was built with the seccomp
// tag, and so filters containers' system calls.
func SeccompSupported() bool { return seccomp.Supported() }

// seccompConfig is the system call filter of a container whose capability
// bounding set is caps: nil when it is privileged or unconfined, else its
// own profile or the default one, as with Docker.
func seccompConfig(s *Spec, caps []string) (*configs.Seccomp, error) {
	if s.Privileged || s.SeccompUnconfined {
		return nil, nil
	}
	return seccomp.Config(s.SeccompProfile, caps)
}
