// Package volumes keeps berth's volumes under <root>/volumes/<name>/_data
// and turns a service's mount entries into host sources: named and
// anonymous volumes, binds, tmpfs, and the mounts of a volumes_from
// producer.
//
// Nothing in this package deletes volume data except Store.Remove, which
// only the explicit `volume rm`, `volume prune` and `down -v` call, and
// the removal of a throwaway stack, for its own volumes. A volume seeded
// from another (CreateOptions.Seed) never writes to it.
package volumes

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/berthdev/berth/internal/privdir"
	"github.com/berthdev/berth/internal/statefile"
)

// Sentinel errors callers branch on.
var (
	// ErrNotFound means no volume has that name.
	ErrNotFound = errors.New("no such volume")
	// ErrInUse means containers still use the volume.
	ErrInUse = errors.New("volume is in use")
	// ErrConflict means a volume exists with different options.
	ErrConflict = errors.New("volume exists with different options")
)

// Volume is one volume's record.
type Volume struct {
	Name       string            `json:"Name"`
	Driver     string            `json:"Driver"`
	Mountpoint string            `json:"Mountpoint"`
	Labels     map[string]string `json:"Labels"`
	Options    map[string]string `json:"Options"`
	CreatedAt  time.Time         `json:"CreatedAt"`
	Anonymous  bool              `json:"Anonymous,omitempty"`
	// Initialized is set once the volume was first mounted (and filled
	// from the image, unless nocopy): it is never filled again.
	Initialized bool `json:"Initialized,omitempty"`
	// Seed is the data directory of the volume this one is layered over,
	// copy-on-write (see CreateOptions.Seed).
	Seed string `json:"Seed,omitempty"`
}

// Store is the volumes under one berth root.
type Store struct {
	root string
	// exists tells whether a container exists; nil when the store is
	// used without the runtime, and every reference then counts.
	exists func(containerID string) bool
}

// TrackContainers lets the store tell stale references from live ones: a
// reference is written before its container is created, so a command
// killed in between leaves one to a container that never came to exist.
// Such a reference, whose container does not exist and whose writer has
// gone, is ignored and removed.
func (s *Store) TrackContainers(exists func(containerID string) bool) { s.exists = exists }

// Open returns the store at <root>/volumes.
func Open(root string) (*Store, error) {
	dir := filepath.Join(root, "volumes")
	// Volume data holds whatever setuid files containers made: no other
	// user may reach it (see internal/privdir).
	if err := privdir.EnsureAll(root, dir); err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	return &Store{root: abs}, nil
}

var namePattern = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)

func (s *Store) dir(name string) string { return filepath.Join(s.root, name) }

// CreateOptions describe a new volume.
type CreateOptions struct {
	Driver    string            // "" or "local"
	Options   map[string]string // driver_opts: type, o, device
	Labels    map[string]string
	Anonymous bool
	// Seed, the data directory of another volume of the store, makes the
	// new volume start with that volume's content as an overlay over it:
	// writes go to the new volume alone, and the seed is never changed.
	Seed string
}

func (s *Store) lock() (func(), error) {
	unlock, err := statefile.Lock(filepath.Join(s.root, ".lock"))
	if err != nil {
		return nil, err
	}
	s.sweep()
	return unlock, nil
}

// sweep removes what a Remove killed halfway left: a volume renamed to
// .removing-<name> is gone already for every reader, only its files are
// left. It runs under the store's lock, which Remove holds throughout.
func (s *Store) sweep() {
	ents, _ := os.ReadDir(s.root)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".removing-") {
			gone := filepath.Join(s.root, e.Name())
			unmountBelow(gone)
			os.RemoveAll(gone)
		}
	}
}

// Create makes a volume, or returns the existing one when its options
// agree.
func (s *Store) Create(ctx context.Context, name string, opts CreateOptions) (*Volume, bool, error) {
	if !namePattern.MatchString(name) {
		return nil, false, fmt.Errorf("volume name %q: use letters, digits, _ . - (starting with a letter or digit)", name)
	}
	if opts.Driver != "" && opts.Driver != "local" {
		return nil, false, fmt.Errorf("volume %s: driver %q is not supported by berth (only local)", name, opts.Driver)
	}
	if err := checkDriverOpts(opts.Options); err != nil {
		return nil, false, fmt.Errorf("volume %s: %w", name, err)
	}
	unlock, err := s.lock()
	if err != nil {
		return nil, false, err
	}
	defer unlock()
	if v, err := s.get(name); err == nil {
		if !maps.Equal(v.Options, opts.Options) {
			return nil, false, fmt.Errorf("%w: %s has driver_opts %v, the compose file asks for %v (remove it with `berth volume rm %s` to recreate)", ErrConflict, name, v.Options, opts.Options, name)
		}
		return v, false, nil
	}
	v := &Volume{Name: name, Driver: "local", Mountpoint: filepath.Join(s.dir(name), "_data"), Labels: opts.Labels, Options: opts.Options, CreatedAt: time.Now().UTC(), Anonymous: opts.Anonymous}
	if v.Labels == nil {
		v.Labels = map[string]string{}
	}
	if opts.Seed != "" {
		if len(opts.Options) > 0 {
			return nil, false, fmt.Errorf("volume %s: a seeded volume takes no driver_opts", name)
		}
		if _, err := s.checkSeed(opts.Seed); err != nil {
			return nil, false, fmt.Errorf("volume %s: %w", name, err)
		}
		if err := s.makeSeedDirs(name); err != nil {
			return nil, false, err
		}
		// Its content is the seed's: nothing is copied from an image.
		v.Seed, v.Initialized = filepath.Clean(opts.Seed), true
	}
	if err := os.MkdirAll(filepath.Join(s.dir(name), "refs"), 0o700); err != nil {
		return nil, false, err
	}
	// _data is the mount's root in the container, which its users need.
	if err := os.MkdirAll(v.Mountpoint, 0o755); err != nil {
		return nil, false, err
	}
	if err := s.save(v); err != nil {
		return nil, false, err
	}
	return v, true, nil
}

func (s *Store) save(v *Volume) error {
	return statefile.WriteJSON(filepath.Join(s.dir(v.Name), "volume.json"), v, statefile.Options{Perm: 0o644, Indent: "  ", Sync: true})
}

func (s *Store) get(name string) (*Volume, error) {
	b, err := os.ReadFile(filepath.Join(s.dir(name), "volume.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, name)
	}
	if err != nil {
		return nil, err
	}
	var v Volume
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("volume %s: %w", name, err)
	}
	return &v, nil
}

// Get returns a volume by name.
func (s *Store) Get(ctx context.Context, name string) (*Volume, error) { return s.get(name) }

// List returns every volume, by name.
func (s *Store) List(ctx context.Context) ([]*Volume, error) {
	ents, err := os.ReadDir(s.root)
	if err != nil {
		return nil, err
	}
	var out []*Volume
	for _, e := range ents {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		v, err := s.get(e.Name())
		if err != nil {
			continue
		}
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Users lists the containers holding a reference to the volume. Stale
// references (see TrackContainers) are removed instead.
func (s *Store) Users(name string) []string {
	refs := filepath.Join(s.dir(name), "refs")
	ents, _ := os.ReadDir(refs)
	var out []string
	for _, e := range ents {
		p := filepath.Join(refs, e.Name())
		if s.stale(e.Name(), p) {
			os.Remove(p)
			continue
		}
		out = append(out, e.Name())
	}
	return out
}

func (s *Store) stale(containerID, ref string) bool {
	if s.exists == nil || s.exists(containerID) {
		return false
	}
	b, err := os.ReadFile(ref)
	if err != nil {
		return !errors.Is(err, fs.ErrNotExist)
	}
	var pid int
	var start uint64
	if n, _ := fmt.Sscanf(string(b), "%d %d", &pid, &start); n == 2 && pid > 0 {
		if now, ok := processStart(pid); ok && now == start {
			return false // its container is still being created
		}
	}
	return true
}

// processStart is a process's start time in clock ticks since boot, which
// tells it from a later process that reuses its pid.
func processStart(pid int) (uint64, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	// The command name may hold spaces and parentheses: fields are
	// counted after its closing parenthesis (state is field 3, start
	// time field 22).
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return 0, false
	}
	var start uint64
	if _, err := fmt.Sscanf(f[19], "%d", &start); err != nil {
		return 0, false
	}
	return start, true
}

// Acquire records that a container uses the volume. The reference names
// the process that wrote it, so that one left by a command killed before
// its container existed can be told from one whose container is still
// being created.
func (s *Store) Acquire(name, containerID string) error {
	if _, err := s.get(name); err != nil {
		return err
	}
	start, _ := processStart(os.Getpid())
	owner := fmt.Sprintf("%d %d\n", os.Getpid(), start)
	return os.WriteFile(filepath.Join(s.dir(name), "refs", containerID), []byte(owner), 0o644)
}

// Release drops a container's reference to every volume it held.
func (s *Store) Release(containerID string) {
	ents, _ := os.ReadDir(s.root)
	for _, e := range ents {
		os.Remove(filepath.Join(s.root, e.Name(), "refs", containerID))
	}
}

// Remove deletes a volume and its data. A volume a container uses is
// refused, naming the containers (unless force).
func (s *Store) Remove(ctx context.Context, name string, force bool) error {
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	if _, err := s.get(name); err != nil {
		return err
	}
	if users := s.Users(name); len(users) > 0 && !force {
		short := make([]string, len(users))
		for i, u := range users {
			short[i] = u[:min(12, len(u))]
		}
		return fmt.Errorf("%w: %s is used by container(s) %s", ErrInUse, name, strings.Join(short, ", "))
	}
	if by := s.seededBy(ctx, name); len(by) > 0 && !force {
		return fmt.Errorf("%w: %s is the seed of volume(s) %s", ErrInUse, name, strings.Join(by, ", "))
	}
	dir := s.dir(name)
	unmountBelow(filepath.Join(dir, "_data"))
	gone := filepath.Join(s.root, ".removing-"+name)
	if err := os.Rename(dir, gone); err != nil {
		return err
	}
	return os.RemoveAll(gone)
}

// Prune removes the anonymous volumes (with all, every volume) that no
// container uses, and returns their names. A volume found in use when it
// comes to its removal is left.
func (s *Store) Prune(ctx context.Context, all bool) ([]string, error) {
	vs, err := s.List(ctx)
	if err != nil {
		return nil, err
	}
	var removed []string
	for _, v := range vs {
		if (!v.Anonymous && !all) || len(s.Users(v.Name)) > 0 {
			continue
		}
		if err := s.Remove(ctx, v.Name, false); err != nil {
			if errors.Is(err, ErrInUse) || errors.Is(err, ErrNotFound) {
				continue
			}
			return removed, err
		}
		removed = append(removed, v.Name)
	}
	return removed, nil
}

// MarkInitialized records that the volume was filled (or deliberately
// left empty) on its first use.
func (s *Store) MarkInitialized(name string) error {
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	v, err := s.get(name)
	if err != nil {
		return err
	}
	v.Initialized = true
	return s.save(v)
}

// SetLabels replaces a volume's labels (anonymous volumes change owner
// when their container is recreated).
func (s *Store) SetLabels(name string, labels map[string]string) error {
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	v, err := s.get(name)
	if err != nil {
		return err
	}
	v.Labels = labels
	return s.save(v)
}
