package acceptance

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// The roles berth re-executes itself in (container init, monitor) start
// from internal/reexec's init. That saves each of them the CLI's heavy
// package initialization only while Go initializes reexec before those
// packages; this checks the order in the binary itself.
func TestReexecInitializedBeforeCLIPackages(t *testing.T) {
	cmd := exec.Command(binary, "version")
	cmd.Env = append(os.Environ(), "GODEBUG=inittrace=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("berth version: %v\n%s", err, out)
	}
	order := map[string]int{}
	n := 0
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[0] == "init" {
			order[f[1]] = n
			n++
		}
	}
	reexec, ok := order["github.com/berthdev/berth/internal/reexec"]
	if !ok {
		t.Fatalf("no init trace of internal/reexec in:\n%s", out)
	}
	for _, heavy := range []string{
		"github.com/santhosh-tekuri/jsonschema/v6",
		"github.com/compose-spec/compose-go/v2/loader",
		"github.com/berthdev/berth/project",
	} {
		i, ok := order[heavy]
		if !ok {
			t.Errorf("no init trace of %s", heavy)
			continue
		}
		if i < reexec {
			t.Errorf("%s is initialized before internal/reexec (%d < %d)", heavy, i, reexec)
		}
	}
}
