package acceptance

import (
	"strings"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/busybox"
)

// compose-spec: a service a command names has its profile activated.
// Before, `berth run t` and `berth up t` with t in profile oneoff answered
// "no such service".
func TestProfileServiceNamedOnCommandLine(t *testing.T) {
	e := newEnv(t)
	e.importBusybox("pbox", busybox.Options{})
	e.writeFile("compose.yaml", `services:
  db:
    image: pbox
    command: [sleep, "3600"]
  t:
    image: pbox
    profiles: [oneoff]
    depends_on: [db]
    command: [sh, -c, "exit 7"]
`)
	if r := e.berth("run", "--rm", "-T", "t"); r.Code != 7 {
		t.Fatalf("run of a profile service: exit %d: %s", r.Code, r.Stderr)
	}
	e.must("up", "-d", "t")
	rows := e.byService(e.ps())
	if _, ok := rows["t"]; !ok {
		t.Errorf("up t did not create t: %+v", rows)
	}
	if _, ok := rows["db"]; !ok {
		t.Errorf("up t did not create its dependency db: %+v", rows)
	}
}

// Swarm-only keys are ignored with one warning per key, as docker compose
// does; a Fig-format override without image or build is Fig too; and a
// dependency that exits non-zero is reported as compose reports it.
func TestSwarmKeysFigOverrideAndFailedDependency(t *testing.T) {
	e := newEnv(t)
	e.importBusybox("sbox", busybox.Options{})
	e.writeFile("compose.yaml", `services:
  a:
    image: sbox
    command: [sleep, "3600"]
    deploy:
      update_config: {parallelism: 1}
      placement: {constraints: ["node.role == manager"]}
`)
	r := e.berth("up", "-d")
	if r.Code != 0 {
		t.Fatalf("a file with swarm keys was refused: %s", r.Stderr)
	}
	if n := strings.Count(r.Stderr, "deploy.update_config"); n != 1 || !strings.Contains(r.Stderr, "ignored: only used by swarm") {
		t.Errorf("want one warning per swarm key, got: %s", r.Stderr)
	}
	e.must("down", "-t", "0")

	e.writeFile("fig.yml", "net:\n  image: sbox\n  command: sleep 3600\nweb:\n  image: sbox\n  command: sleep 3600\n  links: [net]\n")
	e.writeFile("override.yml", "net:\n  command: sh -c 'echo overridden; sleep 3600'\n")
	e.must("-f", "fig.yml", "-f", "override.yml", "up", "-d")
	e.eventually(20*time.Second, "the override's command", func() bool {
		return strings.Contains(e.must("-f", "fig.yml", "-f", "override.yml", "logs", "net"), "overridden")
	})
	e.must("-f", "fig.yml", "-f", "override.yml", "down", "-t", "0")

	e.writeFile("compose.yaml", `services:
  dep:
    image: sbox
    command: [sh, -c, "exit 3"]
  app:
    image: sbox
    command: [sleep, "3600"]
    depends_on:
      dep: {condition: service_completed_successfully}
`)
	r = e.berth("up", "-d")
	if r.Code == 0 || !strings.Contains(r.Stderr, "dependency failed to start: container "+e.Project+"-dep-1 exited (3)") {
		t.Errorf("failed dependency reported as: exit %d: %s", r.Code, r.Stderr)
	}
}
