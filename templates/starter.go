package templates

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"text/template"
)

//go:embed all:starters
var starters embed.FS

// ErrExists means a starter file would overwrite one already there.
var ErrExists = errors.New("file already exists")

// StarterOptions fill in a starter project.
type StarterOptions struct {
	Name  string // project name
	Image string // image the services run
}

// Starters lists the starter projects `berth init` can write.
func Starters() []string {
	ents, _ := starters.ReadDir("starters")
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

// WriteStarter renders the starter project kind into dir. It never
// overwrites: if any file exists already, nothing is written.
func WriteStarter(dir, kind string, opts StarterOptions) ([]string, error) {
	root := "starters/" + kind
	if _, err := fs.Stat(starters, root); err != nil {
		return nil, fmt.Errorf("no starter project %q (have %v)", kind, Starters())
	}
	files := map[string][]byte{}
	err := fs.WalkDir(starters, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		raw, err := starters.ReadFile(p)
		if err != nil {
			return err
		}
		tmpl, err := template.New(p).Parse(string(raw))
		if err != nil {
			return err
		}
		var buf bytes.Buffer
		if err := tmpl.Execute(&buf, opts); err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		files[rel] = buf.Bytes()
		return nil
	})
	if err != nil {
		return nil, err
	}
	var written []string
	for rel := range files {
		if _, err := os.Stat(filepath.Join(dir, rel)); err == nil {
			return nil, fmt.Errorf("%w: %s", ErrExists, filepath.Join(dir, rel))
		}
	}
	for rel, b := range files {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return written, err
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return written, err
		}
		written = append(written, p)
	}
	return written, nil
}
