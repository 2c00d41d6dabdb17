package project

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/berthdev/berth/runtime"
	"github.com/compose-spec/compose-go/v2/types"
)

// A container with network_mode service:X or container:X lives in X's
// network namespace, and, as with Docker, it is X on the network in every
// way: it runs with X's host name and mounts X's own /etc/hosts,
// /etc/resolv.conf and /etc/hostname (the same files, so the rewrites of
// X's hosts file reach it too), and X's embedded name server, which
// listens in the namespace they share, answers it.

// joinNetworkOf gives spec the network namespace and the network identity
// of the container a network_mode names.
func (e *Engine) joinNetworkOf(ctx context.Context, p *Project, s types.ServiceConfig, spec *runtime.Spec) error {
	mode := s.NetworkMode
	if s.Hostname != "" {
		// Docker refuses the pair: the name is the other container's.
		return &ValidationError{Service: s.Name, Field: "hostname", Msg: fmt.Sprintf("cannot be set with network_mode %q, whose host name it takes", mode)}
	}
	target, err := e.networkTarget(ctx, p, mode)
	if err != nil {
		return fmt.Errorf("network_mode %q: %w", mode, err)
	}
	ns, err := sharedNetNS(target)
	if err != nil {
		return fmt.Errorf("network_mode %q: %w", mode, err)
	}
	spec.Network, spec.NetNS = runtime.NetworkPath, ns
	spec.Hostname, spec.Domainname = target.EtcHostname(), target.Spec.Domainname
	spec.Resolver = nil
	mounted := map[string]bool{}
	for _, m := range spec.Mounts {
		mounted[filepath.Clean(m.Target)] = true
	}
	for _, m := range target.EtcMounts() {
		if !mounted[m.Target] { // a file the service mounts itself wins
			spec.Mounts = append(spec.Mounts, m)
		}
	}
	return nil
}

// networkTarget finds the container a network_mode service:X (replica 1)
// or container:X points at.
func (e *Engine) networkTarget(ctx context.Context, p *Project, mode string) (runtime.Info, error) {
	if name, ok := strings.CutPrefix(mode, "service:"); ok {
		c, err := e.serviceContainer(ctx, p, name, 1)
		return c.Info, err
	}
	return e.runtime.Inspect(ctx, strings.TrimPrefix(mode, "container:"))
}

// sharedNetNS is the path of a container's network namespace.
func sharedNetNS(info runtime.Info) (string, error) {
	switch info.Spec.Network {
	case runtime.NetworkPath:
		return info.Spec.NetNS, nil
	case runtime.NetworkHost:
		return "/proc/1/ns/net", nil
	}
	if info.Pid == 0 {
		return "", fmt.Errorf("%s has no network namespace of its own to share until it runs", info.Name)
	}
	return fmt.Sprintf("/proc/%d/ns/net", info.Pid), nil
}
