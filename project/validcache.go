package project

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"github.com/berthdev/berth/internal/statefile"
	"github.com/compose-spec/compose-go/v2/types"
)

// A validCache remembers inputs that compose-go's loader has validated
// (the compose schema and its semantic checks), so that loading the same
// files with the same environment again need not compile the compose
// schema: that costs a short-lived command some 15 ms, more than the rest
// of loading. An entry is an empty file named by the hash of everything
// the validated model is made of: the files' names and contents, the
// working directory, the interpolation environment and options, and the
// binary that validated them. Files that include or extend others are
// never remembered, as what they pull in is not in the hash.
type validCache struct {
	dir string
}

// validCacheMax bounds the entries kept; beyond it the oldest go.
const validCacheMax = 256

func (c validCache) key(details types.ConfigDetails, opts LoadOptions, name string, profiles []string) (string, bool) {
	if c.dir == "" {
		return "", false
	}
	exe, err := os.Executable()
	if err != nil {
		return "", false
	}
	fi, err := os.Stat(exe)
	if err != nil {
		return "", false
	}
	h := sha256.New()
	fmt.Fprintf(h, "exe %s %d %d\n", exe, fi.Size(), fi.ModTime().UnixNano())
	fmt.Fprintf(h, "wd %q name %q interpolate %t profiles %q\n", details.WorkingDir, name, !opts.NoInterpolate, profiles)
	for _, f := range details.ConfigFiles {
		if bytes.Contains(f.Content, []byte("include")) || bytes.Contains(f.Content, []byte("extends")) {
			return "", false
		}
		fmt.Fprintf(h, "file %q %d\n", f.Filename, len(f.Content))
		h.Write(f.Content)
	}
	keys := slices.Sorted(maps.Keys(details.Environment))
	for _, k := range keys {
		fmt.Fprintf(h, "env %q=%q\n", k, details.Environment[k])
	}
	return hex.EncodeToString(h.Sum(nil)), true
}

// valid tells whether the input with this key was validated before.
func (c validCache) valid(key string) bool {
	_, err := os.Stat(filepath.Join(c.dir, key))
	return err == nil
}

// remember records that the input with this key is valid. The cache is
// only an aid: failing to write it changes nothing else.
func (c validCache) remember(key string) {
	if err := os.MkdirAll(c.dir, 0o700); err != nil {
		return
	}
	if err := statefile.Write(filepath.Join(c.dir, key), nil, statefile.Options{}); err != nil {
		return
	}
	ents, err := os.ReadDir(c.dir)
	if err != nil || len(ents) <= validCacheMax {
		return
	}
	type entry struct {
		name string
		mod  int64
	}
	var all []entry
	for _, e := range ents {
		if info, err := e.Info(); err == nil {
			all = append(all, entry{e.Name(), info.ModTime().UnixNano()})
		}
	}
	slices.SortFunc(all, func(a, b entry) int { return int(b.mod - a.mod) })
	for _, e := range all[min(len(all), validCacheMax/2):] {
		os.Remove(filepath.Join(c.dir, e.name))
	}
}
