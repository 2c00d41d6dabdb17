package project

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
)

// throwawayFile marks a project directory as a throwaway stack's and
// names its owner: the process (berth test, or a test binary using
// berthtest) that removes the stack when it is done. A stack whose owner
// is gone (killed, out of memory, the machine rebooted) is removed by the
// next berth command on the root.
const throwawayFile = "throwaway.json"

// throwawayMark is the content of throwawayFile.
type throwawayMark struct {
	Base string `json:"base"` // the project the stack was made from
	// The owner: its pid, its start time in clock ticks since boot and
	// the boot it started in, which together tell it from a later
	// process that reuses its pid, in this boot or after a reboot.
	Pid   int    `json:"pid,omitempty"`
	Start uint64 `json:"start,omitempty"`
	Boot  string `json:"boot,omitempty"`
	// PidNS is the owner's pid namespace: its pid means nothing in
	// another one.
	PidNS string `json:"pidns,omitempty"`
	// Kept is set by --keep: the stack has no owner and stays until it is
	// taken down or pruned explicitly.
	Kept    bool      `json:"kept,omitempty"`
	Created time.Time `json:"created"`
}

func markPath(root, project string) string {
	return filepath.Join(root, "projects", project, throwawayFile)
}

// newMark marks a stack as owned by this process.
func newMark(base string) throwawayMark {
	pid := os.Getpid()
	start, _ := processStart(pid)
	return throwawayMark{Base: base, Pid: pid, Start: start, Boot: bootID(), PidNS: pidNS(), Created: time.Now().UTC()}
}

func pidNS() string {
	ns, _ := os.Readlink("/proc/self/ns/pid")
	return ns
}

// ownerGone reports whether the stack's owner has ended. A kept stack has
// no owner, and is never gone in this sense.
func (m throwawayMark) ownerGone() bool {
	if m.Kept {
		return false
	}
	if m.Boot != bootID() {
		return true
	}
	if m.PidNS != pidNS() {
		// An owner in another pid namespace (berth run in a container
		// sharing the root) cannot be seen from here: it is taken for
		// alive, and its stack left to it or to an explicit down.
		return false
	}
	start, ok := processStart(m.Pid)
	return !ok || start != m.Start
}

func readMark(path string) (throwawayMark, error) {
	var m throwawayMark
	b, err := os.ReadFile(path)
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// writeMark replaces the mark atomically: a reader never sees half of it.
func writeMark(path string, m throwawayMark) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// processStart is a process's start time in clock ticks since boot (field
// 22 of /proc/PID/stat); false when it does not run or is a zombie.
func processStart(pid int) (uint64, bool) {
	if pid <= 0 {
		return 0, false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	// The command name may hold spaces and parentheses: fields are
	// counted after its closing parenthesis (state is field 3).
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 || f[0] == "Z" {
		return 0, false
	}
	var start uint64
	if _, err := fmt.Sscanf(f[19], "%d", &start); err != nil {
		return 0, false
	}
	return start, true
}

func bootID() string {
	b, _ := os.ReadFile("/proc/sys/kernel/random/boot_id")
	return strings.TrimSpace(string(b))
}

// throwawayMarkOf returns the mark of a project that is a throwaway stack.
func (e *Engine) throwawayMarkOf(project string) (throwawayMark, bool) {
	m, err := readMark(markPath(e.runtime.Root(), project))
	return m, err == nil
}

// ThrowawayStack is a throwaway stack found on a root.
type ThrowawayStack struct {
	Name    string    `json:"Name"`
	Base    string    `json:"Base"`
	Kept    bool      `json:"Kept"`
	Created time.Time `json:"Created"`
	// Abandoned means its owner is gone without removing it.
	Abandoned bool `json:"Abandoned"`
}

// throwaways lists the throwaway stacks under root, by name.
func throwaways(root string) []ThrowawayStack {
	ents, _ := os.ReadDir(filepath.Join(root, "projects"))
	var out []ThrowawayStack
	for _, ent := range ents {
		m, err := readMark(markPath(root, ent.Name()))
		if err != nil {
			continue
		}
		out = append(out, ThrowawayStack{Name: ent.Name(), Base: m.Base, Kept: m.Kept, Created: m.Created, Abandoned: m.ownerGone()})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Throwaways lists the throwaway stacks of the root: running ones, kept
// ones and abandoned ones.
func (e *Engine) Throwaways() []ThrowawayStack { return throwaways(e.runtime.Root()) }

// PruneThrowaways removes the throwaway stacks whose owner is gone and,
// with kept, those kept for debugging; the stacks of running tests are
// left alone. It returns the names of the stacks it removed.
func (e *Engine) PruneThrowaways(ctx context.Context, kept bool, ev Events) ([]string, error) {
	var removed []string
	var errs []error
	for _, s := range e.Throwaways() {
		if !s.Abandoned && !(kept && s.Kept) {
			continue
		}
		if err := e.removeThrowaway(ctx, &Project{Name: s.Name, Services: types.Services{}}, ev); err != nil {
			errs = append(errs, fmt.Errorf("throwaway stack %s: %w", s.Name, err))
			continue
		}
		removed = append(removed, s.Name)
	}
	return removed, errors.Join(errs...)
}

// ReapAbandoned removes the throwaway stacks of root whose owner is gone.
// Every berth command calls it: it opens the engine only when it finds
// such a stack, so it costs a directory listing otherwise.
func ReapAbandoned(ctx context.Context, root, state string, ev Events) ([]string, error) {
	found := false
	for _, s := range throwaways(root) {
		found = found || s.Abandoned
	}
	if !found {
		return nil, nil
	}
	e, err := NewEngine(root, state)
	if err != nil {
		return nil, err
	}
	return e.PruneThrowaways(ctx, false, ev)
}

// removeThrowaway takes a throwaway stack down whole: containers, one-off
// ones included, at once (its data is thrown away, so nothing waits for a
// graceful stop), networks, and volumes. Down also removes the mark once
// nothing is left.
func (e *Engine) removeThrowaway(ctx context.Context, p *Project, ev Events) error {
	now := time.Duration(0)
	return e.Down(context.WithoutCancel(ctx), p, DownOptions{Volumes: true, RemoveOrphans: true, Timeout: &now, Events: ev})
}

// downThrowaway is Down's part for a throwaway stack: it always goes
// whole, volumes included.
func (e *Engine) downThrowaway(project string, opts *DownOptions) {
	if _, ok := e.throwawayMarkOf(project); ok {
		opts.Volumes, opts.RemoveOrphans = true, true
	}
}

// removeThrowawayVolumes removes what is left of a throwaway stack's
// volumes once its containers are gone: every volume labelled with its
// name, which no other project has, named ones too (down -v without the
// compose file knows no names). Other projects' volumes are never touched.
func (e *Engine) removeThrowawayVolumes(ctx context.Context, project string, ev Events) error {
	if _, ok := e.throwawayMarkOf(project); !ok {
		return nil
	}
	all, err := e.volumes.List(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, v := range all {
		if v.Labels[labelVolumeProject] != project {
			continue
		}
		if err := e.volumes.Remove(ctx, v.Name, false); err != nil {
			errs = append(errs, err)
			continue
		}
		if !v.Anonymous {
			ev.emit("Volume "+v.Name, "Removed")
		}
	}
	return errors.Join(errs...)
}

// forgetThrowaway removes a throwaway stack's mark once the stack is gone.
func (e *Engine) forgetThrowaway(project string) {
	path := markPath(e.runtime.Root(), project)
	os.Remove(path)
	os.Remove(path + ".tmp")
}
