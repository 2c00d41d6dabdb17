package project

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/berthdev/berth/internal/statefile"
	"github.com/berthdev/berth/links"
)

// hostsRefresh coalesces rewrites of a project's hosts files. Each attach
// or detach this process makes counts as a change; a rewrite covers every
// change counted before it read the project's sandboxes, so a caller whose
// changes a rewrite already covers (one that ran after them, for another
// container starting in parallel, or for the same container a moment
// earlier) has nothing left to do. Without it, starting n containers
// rewrote the n hosts files 2n times.
type hostsRefresh struct {
	mu      sync.Mutex     // guards changes and covered
	run     sync.Mutex     // one rewrite at a time
	changes map[string]int // project -> changes made
	covered map[string]int // project -> changes+1 the last rewrite covered; 0: none yet
}

func (h *hostsRefresh) changed(project string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.changes == nil {
		h.changes, h.covered = map[string]int{}, map[string]int{}
	}
	h.changes[project]++
}

// refreshHosts rewrites, in place, the hosts file of every container of
// the project, unless a rewrite since the last change already did.
func (e *Engine) refreshHosts(project string) error {
	h := &e.hosts
	h.mu.Lock()
	want := h.changes[project] + 1
	h.mu.Unlock()
	h.run.Lock()
	defer h.run.Unlock()
	h.mu.Lock()
	if h.covered[project] >= want {
		h.mu.Unlock()
		return nil
	}
	covers := h.changes[project] + 1
	h.mu.Unlock()
	if err := e.writeHosts(project); err != nil {
		return err
	}
	h.mu.Lock()
	if h.covered == nil {
		h.changes, h.covered = map[string]int{}, map[string]int{}
	}
	h.covered[project] = covers
	h.mu.Unlock()
	return nil
}

// writeHosts writes every container's hosts file and name server table
// from the project's sandboxes.
func (e *Engine) writeHosts(project string) error {
	all, err := e.links.Sandboxes(project)
	if err != nil {
		return err
	}
	for _, sb := range all {
		if err := e.writeHostsOf(project, sb, all); err != nil {
			return err
		}
	}
	return nil
}

// refreshOwnHosts rewrites one container's hosts file and name server
// table, so that it sees every peer there is now. Its peers learn of it
// when the verb ends (refreshHosts): rewriting every file for every
// container started made starting n containers cost n² writes.
func (e *Engine) refreshOwnHosts(project, id string) error {
	e.hosts.run.Lock()
	defer e.hosts.run.Unlock()
	all, err := e.links.Sandboxes(project)
	if err != nil {
		return err
	}
	for _, sb := range all {
		if sb.ContainerID == id {
			return e.writeHostsOf(project, sb, all)
		}
	}
	return nil
}

func (e *Engine) writeHostsOf(project string, sb *links.Sandbox, all []*links.Sandbox) error {
	path := filepath.Join(e.runtime.Root(), "projects", project, "etc", sb.ContainerID, "hosts")
	if _, err := os.Stat(path); err != nil {
		return nil
	}
	content := strings.Join(links.HostsFileEntries(sb, all), "\n") + "\n"
	if err := links.WriteInPlace(path, []byte(content)); err != nil {
		return err
	}
	// The name server reads the table whole: it is replaced, never
	// rewritten in place.
	names := filepath.Join(filepath.Dir(path), "names")
	return statefile.Write(names, []byte(strings.Join(links.HostsEntries(sb, all), "\n")+"\n"), statefile.Options{Perm: 0o644})
}

func (e *Engine) refreshDiscovery(ctx context.Context, p *Project) error {
	return e.refreshHosts(p.Name)
}

// beforeStart refreshes what a container sees of its peers. The verb
// that starts it tells the peers once it is done (refreshHosts).
func (e *Engine) beforeStart(ctx context.Context, c container) error {
	return e.refreshOwnHosts(c.Labels[LabelProject], c.ID)
}
