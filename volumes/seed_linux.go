package volumes

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"
)

// A seeded volume starts with another volume's content without copying
// it: its _data is an overlay whose lower layer is the seed's data
// directory and whose upper layer, under the volume's own directory, takes
// every write. The seed is never written, and a volume of any size is
// ready as soon as the overlay is mounted.

// seedDirs are the overlay's upper and work directories of a volume.
func (s *Store) seedDirs(name string) (upper, work string) {
	return filepath.Join(s.dir(name), "seed", "upper"), filepath.Join(s.dir(name), "seed", "work")
}

// makeSeedDirs creates a seeded volume's upper and work directories.
func (s *Store) makeSeedDirs(name string) error {
	upper, work := s.seedDirs(name)
	for _, d := range []string{upper, work} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	return nil
}

// checkSeed accepts a seed that is the data directory of a volume of this
// store: the only directories berth layers a volume over.
func (s *Store) checkSeed(seed string) (string, error) {
	rest, ok := strings.CutPrefix(filepath.Clean(seed), s.root+"/")
	name, tail, _ := strings.Cut(rest, "/")
	if !ok || tail != "_data" {
		return "", fmt.Errorf("seed %s is not a volume's data directory", seed)
	}
	if _, err := s.get(name); err != nil {
		return "", fmt.Errorf("seed: %w", err)
	}
	return name, nil
}

// mountSeed mounts a seeded volume's overlay on its _data, once.
func (s *Store) mountSeed(v *Volume) error {
	if ok, _ := mountinfo.Mounted(v.Mountpoint); ok {
		return nil
	}
	if _, err := os.Stat(v.Seed); err != nil {
		return fmt.Errorf("volume %s: seed: %w", v.Name, err)
	}
	upper, work := s.seedDirs(v.Name)
	opts := "lowerdir=" + overlayEscape(v.Seed) + ",upperdir=" + overlayEscape(upper) + ",workdir=" + overlayEscape(work)
	if err := unix.Mount("overlay", v.Mountpoint, "overlay", 0, opts); err != nil {
		return fmt.Errorf("volume %s: mounting its overlay over %s: %w", v.Name, v.Seed, err)
	}
	return nil
}

// overlayEscape escapes the characters overlayfs splits its options on.
func overlayEscape(p string) string {
	r := strings.NewReplacer(`\`, `\\`, `,`, `\,`, `:`, `\:`)
	return r.Replace(p)
}

// seededBy lists the volumes layered over name's data.
func (s *Store) seededBy(ctx context.Context, name string) []string {
	vs, err := s.List(ctx)
	if err != nil {
		return nil
	}
	var out []string
	data := filepath.Join(s.dir(name), "_data")
	for _, v := range vs {
		if v.Seed == data {
			out = append(out, v.Name)
		}
	}
	return out
}
