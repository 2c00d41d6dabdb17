package kube_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// The berth binary links no Kubernetes module: k8s.io/api alone added
// 8.6 MB (+40%) to it and a millisecond to the start of every berth
// process, for one command. This package writes the API's objects with
// types of its own, which project/kube/apicheck checks against
// Kubernetes' own.
func TestBerthLinksNoKubernetesModule(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/berthdev/berth/cmd/berth").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if !slices.Contains(deps, "github.com/berthdev/berth/project/kube") {
		t.Fatalf("go list does not list this package among cmd/berth's dependencies:\n%s", out)
	}
	for _, pkg := range deps {
		if strings.HasPrefix(pkg, "k8s.io/") || strings.HasPrefix(pkg, "sigs.k8s.io/") {
			t.Errorf("cmd/berth depends on %s", pkg)
		}
	}
}
