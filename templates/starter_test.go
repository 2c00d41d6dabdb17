package templates

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/patternmatcher/ignorefile"
	"go.yaml.in/yaml/v4"
)

func TestStartersHaveDescriptions(t *testing.T) {
	var names []string
	for _, s := range Starters() {
		names = append(names, s.Name)
		if s.Description == "" {
			t.Errorf("starter %s has no description", s.Name)
		}
	}
	for _, want := range []string{"go", "node", "python", "static-site"} {
		if !slices.Contains(names, want) {
			t.Errorf("no starter %s in %v", want, names)
		}
	}
	for d := range descriptions {
		if !slices.Contains(names, d) {
			t.Errorf("description of a starter that does not exist: %s", d)
		}
	}
	if !slices.Contains(names, DefaultStarter) {
		t.Errorf("default starter %s does not exist", DefaultStarter)
	}
}

// composeFile is what the tests check of a starter's compose file.
type composeFile struct {
	Services map[string]struct {
		Build    any      `yaml:"build"`
		Image    string   `yaml:"image"`
		Profiles []string `yaml:"profiles"`
		Develop  struct {
			Watch []struct {
				Path   string `yaml:"path"`
				Action string `yaml:"action"`
				Target string `yaml:"target"`
			} `yaml:"watch"`
		} `yaml:"develop"`
	} `yaml:"services"`
}

// Each starter has a compose file with develop.watch rules and a test
// service out of the default profile, a Dockerfile that parses and has the
// stages the compose file builds, and a .dockerignore.
func TestStarterFiles(t *testing.T) {
	for _, s := range Starters() {
		t.Run(s.Name, func(t *testing.T) {
			files, err := Render(s.Name, StarterOptions{Name: "shop"})
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{"compose.yaml", "Dockerfile", ".dockerignore"} {
				if _, ok := files[want]; !ok {
					t.Errorf("no %s", want)
				}
			}
			for name, body := range files {
				if strings.HasSuffix(name, ".tmpl") || bytes.Contains(body, []byte("{{")) {
					t.Errorf("%s is not rendered:\n%s", name, body)
				}
			}

			res, err := parser.Parse(bytes.NewReader(files["Dockerfile"]))
			if err != nil {
				t.Fatalf("Dockerfile: %v", err)
			}
			stages, _, err := instructions.Parse(res.AST, nil)
			if err != nil || len(stages) == 0 {
				t.Fatalf("Dockerfile: %d stages, %v", len(stages), err)
			}
			if _, err := ignorefile.ReadAll(bytes.NewReader(files[".dockerignore"])); err != nil {
				t.Errorf(".dockerignore: %v", err)
			}

			var c composeFile
			if err := yaml.Unmarshal(files["compose.yaml"], &c); err != nil {
				t.Fatalf("compose.yaml: %v", err)
			}
			var watched, tests int
			for name, svc := range c.Services {
				watched += len(svc.Develop.Watch)
				for _, w := range svc.Develop.Watch {
					if w.Action == "sync" || strings.HasPrefix(w.Action, "sync+") {
						if w.Target == "" {
							t.Errorf("service %s: %s rule for %s has no target", name, w.Action, w.Path)
						}
					}
				}
				if slices.Contains(svc.Profiles, "test") {
					tests++
				}
				if b, ok := svc.Build.(map[string]any); ok {
					if target, _ := b["target"].(string); target != "" && !slices.ContainsFunc(stages, func(st instructions.Stage) bool { return st.Name == target }) {
						t.Errorf("service %s builds stage %q, which the Dockerfile does not have", name, target)
					}
				}
			}
			if watched == 0 {
				t.Error("no develop.watch rule")
			}
			if tests != 1 {
				t.Errorf("%d services in profile test, want 1", tests)
			}
		})
	}
}

func TestRenderFillsTheName(t *testing.T) {
	files, err := Render("node", StarterOptions{Name: "shop"})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(files["package.json"], []byte(`"name": "shop"`)) {
		t.Errorf("package.json:\n%s", files["package.json"])
	}
	files, err = Render("go", StarterOptions{Name: "shop"})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(files["go.mod"], []byte("module example.com/shop\n")) {
		t.Errorf("go.mod:\n%s", files["go.mod"])
	}
}

func TestWriteStarter(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "new")
	written, err := WriteStarter(dir, "static-site", StarterOptions{Name: "site"})
	if err != nil {
		t.Fatal(err)
	}
	files, _ := Render("static-site", StarterOptions{Name: "site"})
	if len(written) != len(files) {
		t.Errorf("wrote %v, want the %d files of the starter", written, len(files))
	}
	fi, err := os.Stat(filepath.Join(dir, "test/check.sh"))
	if err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("test/check.sh: %v %v", fi, err)
	}

	t.Run("refuses to overwrite", func(t *testing.T) {
		mine := filepath.Join(dir, "site/index.html")
		if err := os.WriteFile(mine, []byte("mine"), 0o644); err != nil {
			t.Fatal(err)
		}
		os.Remove(filepath.Join(dir, "Dockerfile"))
		_, err := WriteStarter(dir, "static-site", StarterOptions{Name: "site"})
		if !errors.Is(err, ErrExists) || !strings.Contains(err.Error(), mine) {
			t.Fatalf("second write: %v", err)
		}
		if b, _ := os.ReadFile(mine); string(b) != "mine" {
			t.Errorf("overwritten: %q", b)
		}
		if _, err := os.Stat(filepath.Join(dir, "Dockerfile")); err == nil {
			t.Error("a refused write wrote the missing Dockerfile")
		}
	})

	t.Run("force", func(t *testing.T) {
		if err := os.Chmod(filepath.Join(dir, "test/check.sh"), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := WriteStarter(dir, "static-site", StarterOptions{Name: "site", Force: true}); err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(filepath.Join(dir, "site/index.html")); !bytes.Equal(b, files["site/index.html"]) {
			t.Errorf("not overwritten: %q", b)
		}
		if fi, _ := os.Stat(filepath.Join(dir, "test/check.sh")); fi.Mode().Perm() != 0o755 {
			t.Errorf("test/check.sh mode %v", fi.Mode())
		}
	})
}

func TestUnknownStarter(t *testing.T) {
	for _, name := range []string{"nope", "", ".", "..", "go/..", "../starters/go"} {
		if _, err := WriteStarter(t.TempDir(), name, StarterOptions{}); !errors.Is(err, ErrNoStarter) {
			t.Errorf("starter %q: %v", name, err)
		}
	}
}
