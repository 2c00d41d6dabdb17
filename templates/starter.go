package templates

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"text/template"
)

// Each starter is a directory of starters/ written as it is, except that a
// file named NAME.tmpl is rendered with text/template (StarterOptions) and
// written as NAME. go.mod must be such a template: a directory holding a
// go.mod is another module, which go:embed cannot reach.
//
//go:embed all:starters
var starters embed.FS

// DefaultStarter is the starter `berth init` writes when none is named.
const DefaultStarter = "static-site"

// descriptions are the one-line descriptions of `berth init --list`; a
// test checks that every starter has one.
var descriptions = map[string]string{
	"go":          "Go web service: a static binary in an image of its own, go test in a throwaway stack",
	"node":        "Node.js web service (node:http), node --test, sync+restart on edits",
	"python":      "Python web service (http.server), unittest, sync+restart on edits",
	"static-site": "static pages served by busybox httpd, edits synced live, a link check",
}

// ErrExists means a starter file would overwrite one already there.
var ErrExists = errors.New("file already exists")

// ErrNoStarter means no starter has the name asked for.
var ErrNoStarter = errors.New("no such starter")

// Starter is one starter project.
type Starter struct {
	Name        string
	Description string
}

// StarterOptions fill in a starter project's templates.
type StarterOptions struct {
	// Name is the project's name: its directory's, by default. It names
	// the Go module and the npm package.
	Name string
	// Force overwrites files that exist already.
	Force bool
}

// Starters lists the starter projects `berth init` can write, by name.
func Starters() []Starter {
	ents, _ := starters.ReadDir("starters")
	var out []Starter
	for _, e := range ents {
		if e.IsDir() {
			out = append(out, Starter{Name: e.Name(), Description: descriptions[e.Name()]})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func starterNames() string {
	var names []string
	for _, s := range Starters() {
		names = append(names, s.Name)
	}
	return strings.Join(names, ", ")
}

// file is one file of a rendered starter.
type file struct {
	rel  string // slash-separated, relative to the project directory
	body []byte
	mode os.FileMode
}

// Render returns the files of starter name, rendered, by their paths
// relative to the project directory.
func Render(name string, opts StarterOptions) (map[string][]byte, error) {
	files, err := render(name, opts)
	if err != nil {
		return nil, err
	}
	out := make(map[string][]byte, len(files))
	for _, f := range files {
		out[f.rel] = f.body
	}
	return out, nil
}

func render(name string, opts StarterOptions) ([]file, error) {
	root := "starters/" + name
	if fi, err := fs.Stat(starters, root); err != nil || !fi.IsDir() || strings.ContainsAny(name, "/.") {
		return nil, fmt.Errorf("%w %q (have %s)", ErrNoStarter, name, starterNames())
	}
	var files []file
	err := fs.WalkDir(starters, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := starters.ReadFile(p)
		if err != nil {
			return err
		}
		rel := strings.TrimPrefix(p, root+"/")
		if strings.HasSuffix(rel, ".tmpl") {
			rel = strings.TrimSuffix(rel, ".tmpl")
			t, err := template.New(rel).Option("missingkey=error").Parse(string(body))
			if err != nil {
				return fmt.Errorf("starter %s: %w", name, err)
			}
			var buf bytes.Buffer
			if err := t.Execute(&buf, opts); err != nil {
				return fmt.Errorf("starter %s: %w", name, err)
			}
			body = buf.Bytes()
		}
		// Modes are not embedded: scripts are known by their suffix.
		mode := os.FileMode(0o644)
		if path.Ext(rel) == ".sh" {
			mode = 0o755
		}
		files = append(files, file{rel: rel, body: body, mode: mode})
		return nil
	})
	return files, err
}

// WriteStarter writes starter name into dir, which it creates if need be,
// and returns the paths it wrote. Unless opts.Force, it writes nothing if
// any of the files exists already, and the error names them all.
func WriteStarter(dir, name string, opts StarterOptions) ([]string, error) {
	files, err := render(name, opts)
	if err != nil {
		return nil, err
	}
	if !opts.Force {
		var existing []string
		for _, f := range files {
			p := filepath.Join(dir, filepath.FromSlash(f.rel))
			if _, err := os.Lstat(p); err == nil {
				existing = append(existing, p)
			} else if !errors.Is(err, fs.ErrNotExist) {
				return nil, err
			}
		}
		if len(existing) > 0 {
			return nil, fmt.Errorf("%w: %s", ErrExists, strings.Join(existing, ", "))
		}
	}
	var written []string
	for _, f := range files {
		p := filepath.Join(dir, filepath.FromSlash(f.rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return written, err
		}
		if err := writeFile(p, f.body, f.mode); err != nil {
			return written, err
		}
		written = append(written, p)
	}
	return written, nil
}

// writeFile writes a file with its mode, also over an existing one.
func writeFile(p string, body []byte, mode os.FileMode) error {
	if err := os.WriteFile(p, body, mode); err != nil {
		return err
	}
	return os.Chmod(p, mode)
}
