// Package links wires a project's containers together: one Linux bridge
// per project network, a network namespace per container with a veth pair
// into each network it joins, addresses from per-project subnets that
// collide with no host route and no other project, published ports as
// kernel NAT rules in an nftables table of berth's own (with accept rules
// for its bridges in iptables' FORWARD chain, which a Docker engine sets to
// drop), generated /etc/hosts files, and Fig's legacy link environment.
//
// What a project holds is recorded in <root>/projects/<project>/network.json,
// so it can be released after a crash as well as on `down`.
package links

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/berthdev/berth/internal/statefile"
)

// Sentinel errors callers branch on.
var (
	// ErrPortInUse means a host port to publish is taken.
	ErrPortInUse = errors.New("host port already in use")
	// ErrNoSubnet means the pool has no free subnet left.
	ErrNoSubnet = errors.New("no free subnet in the address pool")
	// ErrNetworkNotFound means an external network does not exist.
	ErrNetworkNotFound = errors.New("no such network")
)

// Network is one project network as allocated.
type Network struct {
	Project  string `json:"project"`
	Name     string `json:"name"`      // the compose key
	FullName string `json:"full_name"` // <project>_<name>, or name:
	Bridge   string `json:"bridge"`
	Subnet   string `json:"subnet"`  // CIDR
	Gateway  string `json:"gateway"` // the bridge's address
	Internal bool   `json:"internal,omitempty"`
	// Owner is the project that made the network; an external network
	// joined by another project is not removed by it.
	Owner string `json:"owner"`
}

// Endpoint is a container's attachment to one network.
type Endpoint struct {
	Network string   `json:"network"` // FullName
	IP      string   `json:"ip"`
	MAC     string   `json:"mac,omitempty"`
	Veth    string   `json:"veth"`
	Aliases []string `json:"aliases,omitempty"`
}

// Port is one published port.
type Port struct {
	HostIP        string `json:"host_ip,omitempty"`
	HostPort      int    `json:"host_port"`
	ContainerPort int    `json:"container_port"`
	Protocol      string `json:"protocol"` // tcp or udp
	ContainerIP   string `json:"container_ip,omitempty"`
}

// Sandbox is a container's network namespace and attachments.
type Sandbox struct {
	ContainerID   string     `json:"container_id"`
	ContainerName string     `json:"container_name"`
	Service       string     `json:"service,omitempty"`
	Number        int        `json:"number,omitempty"`
	Hostname      string     `json:"hostname,omitempty"`
	NetNS         string     `json:"netns"`
	Endpoints     []Endpoint `json:"endpoints"`
	Ports         []Port     `json:"ports,omitempty"`
	HostsFile     string     `json:"hosts_file,omitempty"`
	Links         []string   `json:"links,omitempty"` // "service:alias"
	ExtraHosts    []string   `json:"extra_hosts,omitempty"`
}

// projectState is what network.json holds.
type projectState struct {
	Networks  map[string]*Network `json:"networks"`  // by compose key
	Sandboxes map[string]*Sandbox `json:"sandboxes"` // by container ID
}

func (m *Manager) statePath(project string) string {
	return filepath.Join(m.root, "projects", project, "network.json")
}

func (m *Manager) load(project string) (*projectState, error) {
	st := &projectState{Networks: map[string]*Network{}, Sandboxes: map[string]*Sandbox{}}
	b, err := os.ReadFile(m.statePath(project))
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, st); err != nil {
		return nil, fmt.Errorf("%s: %w", m.statePath(project), err)
	}
	if st.Networks == nil {
		st.Networks = map[string]*Network{}
	}
	if st.Sandboxes == nil {
		st.Sandboxes = map[string]*Sandbox{}
	}
	return st, nil
}

func (m *Manager) save(project string, st *projectState) error {
	flush, err := m.saveDeferred(project, st)
	if err != nil {
		return err
	}
	return flush()
}

// saveDeferred writes the project's state and returns what makes it
// durable, for a caller to run once it has released the host's network
// lock: every container of a stack saves, and under the lock they would
// wait for the disk one after another.
func (m *Manager) saveDeferred(project string, st *projectState) (flush func() error, err error) {
	p := m.statePath(project)
	if len(st.Networks) == 0 && len(st.Sandboxes) == 0 {
		err := os.Remove(p)
		if errors.Is(err, fs.ErrNotExist) {
			err = nil
		}
		return func() error { return nil }, err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return nil, err
	}
	return statefile.WriteDeferred(p, b, statefile.Options{Perm: 0o644})
}

// allProjects lists the projects with network state.
func (m *Manager) allProjects() []string {
	ents, _ := os.ReadDir(filepath.Join(m.root, "projects"))
	var out []string
	for _, e := range ents {
		if _, err := os.Stat(m.statePath(e.Name())); err == nil {
			out = append(out, e.Name())
		}
	}
	return out
}

// hostLock is the lock of network changes on this host: addresses and
// ports are the host's, shared by every berth root on it.
const hostLock = "/run/lock/berth-network.lock"

// lock serialises network changes across processes, projects and roots.
func (m *Manager) lock() (func(), error) {
	if err := os.MkdirAll(filepath.Dir(hostLock), 0o755); err != nil {
		return nil, err
	}
	return statefile.Lock(hostLock)
}
