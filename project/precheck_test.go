package project

import (
	"testing"
)

// A port mapping made by interpolation ("${WEB_PORT:-8080}:80") was refused
// as "not a port mapping" before it was interpolated.
func TestPrecheckLeavesInterpolatedPortsToTheLoader(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "compose.yaml", "services:\n  web:\n    image: x\n    ports: [\"${WEB_PORT:-8080}:80\"]\n")
	p, err := load(t, dir, LoadOptions{Environ: []string{"WEB_PORT=9090"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Services["web"].Ports[0].Published; got != "9090" {
		t.Errorf("published port %q, want 9090", got)
	}
	write(t, dir, "compose.yaml", "services:\n  web:\n    image: x\n    ports: [\"${WEB_PORT}:80:80\"]\n")
	if _, err := load(t, dir, LoadOptions{Environ: []string{"WEB_PORT=9090"}}); err == nil {
		t.Errorf("a bad mapping after interpolation: %v", err)
	}
}
