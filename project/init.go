package project

import (
	"path/filepath"
	"regexp"
	"strings"

	"github.com/berthdev/berth/templates"
)

// Starter is a starter project `berth init` can write.
type Starter = templates.Starter

// DefaultStarter is the starter Init writes when none is named.
const DefaultStarter = templates.DefaultStarter

// Starters lists the starter projects, by name.
func Starters() []Starter { return templates.Starters() }

// InitOptions are `berth init`'s.
type InitOptions struct {
	// Template names the starter; DefaultStarter when empty.
	Template string
	// Name is the project's name; the directory's, made a valid project
	// name, when empty.
	Name string
	// Force overwrites files that exist.
	Force bool
}

// Init writes a starter project into dir, which it creates if need be,
// and returns the paths it wrote. Unless opts.Force it writes nothing when
// one of the files exists, and the error, ErrStarterExists, names them.
func Init(dir string, opts InitOptions) ([]string, error) {
	if opts.Template == "" {
		opts.Template = DefaultStarter
	}
	if opts.Name == "" {
		opts.Name = projectNameOf(dir)
	}
	return templates.WriteStarter(dir, opts.Template, templates.StarterOptions{Name: opts.Name, Force: opts.Force})
}

var notInName = regexp.MustCompile(`[^a-z0-9_-]`)

// projectNameOf is the project name compose gives a directory: its base
// name, lower case, with only letters, digits, - and _.
func projectNameOf(dir string) string {
	n := notInName.ReplaceAllString(strings.ToLower(filepath.Base(dir)), "")
	n = strings.TrimLeft(n, "-_")
	if n == "" {
		return "app"
	}
	return n
}
