package berthtest_test

import (
	"go/build"
	"strings"
	"testing"
)

// berthtest is a thin public layer over project: it must not reach into
// the runtime, the stores or the networks itself, nor drag in anything
// beyond the standard library. The re-execution hook is the one exception:
// it makes the test binary its containers' init and monitor.
func TestImportsOnlyProject(t *testing.T) {
	pkg, err := build.Default.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	allowed := map[string]bool{
		"github.com/berthdev/berth/project":         true,
		"github.com/berthdev/berth/internal/reexec": true,
	}
	for _, imp := range pkg.Imports {
		first, _, _ := strings.Cut(imp, "/")
		if strings.Contains(first, ".") && !allowed[imp] {
			t.Errorf("berthtest imports %s; it may import only the standard library, project and internal/reexec", imp)
		}
	}
}
