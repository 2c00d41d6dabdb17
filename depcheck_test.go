package berth

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strings"
	"testing"
)

// The import rules of DESIGN.md's layout, checked on what `go list` reports
// for the module's packages as they are built (their build tags included,
// their tests left out), in the manner of go-containerregistry's
// cmd/crane/depcheck_test.go. A rule broken here is a layer crossed: fix
// the import, or change DESIGN.md and this table together.

const module = "github.com/berthdev/berth"

// siblings are the lower packages, each with its subpackages: none depends
// on another, directly or through a helper; project joins them.
var siblings = []string{"runtime", "links", "volumes", "watch", "templates"}

// cmdImports are the packages of ours cmd/berth may import: project, the
// stores for the store-only commands (image, volume), and the re-exec hook
// that makes the binary its containers' init and monitor.
var cmdImports = []string{"project", "runtime/image", "volumes", "internal/reexec"}

// cmdExceptions are imports of cmd/berth that the layout forbids and that
// are still there, each to go. There are none: the CLI reaches containers,
// the builder and the starters through project. Should one have to be
// listed for a while, the test fails once it is no longer imported, so
// that it leaves this list too.
var cmdExceptions = []string{}

// berthtestImports are the packages of ours berthtest may import.
var berthtestImports = []string{"project", "internal/reexec"}

// cliPackages are the command-line libraries only cmd/berth may use.
var cliPackages = []string{"github.com/spf13/cobra", "github.com/spf13/pflag"}

type listed struct {
	ImportPath string
	Imports    []string
	Deps       []string
	Error      *struct{ Err string }
}

func listPackages(t *testing.T) map[string]listed {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(goruntime.GOROOT(), "bin", "go")
	}
	cmd := exec.Command(goBin, "list", "-e", "-tags", "osusergo netgo seccomp",
		"-json=ImportPath,Imports,Deps,Error", "./...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	pkgs := map[string]listed{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p listed
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		if p.Error != nil {
			t.Fatalf("go list %s: %s", p.ImportPath, p.Error.Err)
		}
		pkgs[strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, module), "/")] = p
	}
	if len(pkgs) == 0 {
		t.Fatal("go list found no packages")
	}
	return pkgs
}

// ours maps import paths of the module to its relative names ("runtime/image").
func ours(paths []string) []string {
	var out []string
	for _, p := range paths {
		if rel, ok := strings.CutPrefix(p, module+"/"); ok {
			out = append(out, rel)
		}
	}
	return out
}

// within reports whether pkg is root or below it.
func within(pkg, root string) bool {
	return pkg == root || strings.HasPrefix(pkg, root+"/")
}

func TestImportRules(t *testing.T) {
	pkgs := listPackages(t)
	for _, name := range slices.Sorted(maps.Keys(pkgs)) {
		p := pkgs[name]
		deps := ours(p.Deps)

		// Nothing below cmd talks to a terminal through a CLI library.
		if !within(name, "cmd") {
			for _, d := range p.Deps {
				if slices.ContainsFunc(cliPackages, func(c string) bool { return within(d, c) }) {
					t.Errorf("%s depends on %s: only cmd/berth may use a CLI library", name, d)
				}
			}
		}
		// Only the top imports project, and nothing imports the top.
		for _, d := range deps {
			if within(d, "cmd") || within(d, "berthtest") {
				t.Errorf("%s depends on %s, which nothing imports", name, d)
			}
			if d == "project" && !within(name, "cmd") && name != "berthtest" {
				t.Errorf("%s depends on project: only cmd/berth and berthtest sit above it", name)
			}
		}
		// Siblings never depend on each other.
		for _, s := range siblings {
			if !within(name, s) {
				continue
			}
			for _, d := range deps {
				for _, other := range siblings {
					if other != s && within(d, other) {
						t.Errorf("%s depends on %s: %s and %s are siblings, which only project joins", name, d, s, other)
					}
				}
			}
		}
	}

	cmd, ok := pkgs["cmd/berth"]
	if !ok {
		t.Fatal("go list did not report cmd/berth")
	}
	imports := ours(cmd.Imports)
	for _, imp := range imports {
		if !slices.Contains(cmdImports, imp) && !slices.Contains(cmdExceptions, imp) {
			t.Errorf("cmd/berth imports %s: it may import %v (see DESIGN.md); put the behaviour in project", imp, cmdImports)
		}
	}
	for _, exc := range cmdExceptions {
		if !slices.Contains(imports, exc) {
			t.Errorf("cmd/berth no longer imports %s: take it off cmdExceptions", exc)
		}
	}

	if bt, ok := pkgs["berthtest"]; ok {
		for _, imp := range ours(bt.Imports) {
			if !slices.Contains(berthtestImports, imp) {
				t.Errorf("berthtest imports %s: it may import only %v of berth's packages", imp, berthtestImports)
			}
		}
	}
}
