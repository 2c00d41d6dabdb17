package project

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func write(t *testing.T, dir, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func load(t *testing.T, dir string, opts LoadOptions) (*Project, error) {
	t.Helper()
	opts.WorkingDir = dir
	if opts.Environ == nil {
		opts.Environ = []string{}
	}
	return Load(context.Background(), opts)
}

func TestLoadFindsFileWalkingUpAndNamesProject(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "My_App")
	sub := filepath.Join(dir, "a", "b")
	os.MkdirAll(sub, 0o755)
	write(t, dir, "compose.yaml", "services:\n  web:\n    image: nginx\n")
	write(t, dir, "compose.override.yaml", "services:\n  web:\n    environment:\n      X: from-override\n")
	p, err := load(t, sub, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "my_app" {
		t.Errorf("name %q, want my_app (normalised directory name)", p.Name)
	}
	if v := p.Services["web"].Environment["X"]; v == nil || *v != "from-override" {
		t.Errorf("override file not merged: %v", p.Services["web"].Environment)
	}
	if p, err := load(t, sub, LoadOptions{ProjectName: "other"}); err != nil || p.Name != "other" {
		t.Errorf("-p: %v %v", p, err)
	}
	if p, err := load(t, sub, LoadOptions{Environ: []string{"COMPOSE_PROJECT_NAME=fromenv"}}); err != nil || p.Name != "fromenv" {
		t.Errorf("COMPOSE_PROJECT_NAME: %v", err)
	}
	if _, err := load(t, sub, LoadOptions{ProjectName: "Bad Name"}); err == nil {
		t.Error("an invalid explicit project name was accepted")
	}
	if _, err := load(t, t.TempDir(), LoadOptions{}); !errors.Is(err, ErrNoComposeFile) {
		t.Errorf("no file: %v", err)
	}
}

func TestLoadInterpolatesProfilesAndEnvFile(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, ".env", "TAG=1.2\n")
	write(t, dir, "compose.yaml", "services:\n  web:\n    image: \"app:${TAG}\"\n  debug:\n    image: busybox\n    profiles: [dev]\n")
	p, err := load(t, dir, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Services["web"].Image != "app:1.2" {
		t.Errorf("interpolation from .env: %q", p.Services["web"].Image)
	}
	if _, ok := p.Services["debug"]; ok {
		t.Error("a service of an inactive profile was loaded")
	}
	p, err = load(t, dir, LoadOptions{Profiles: []string{"dev"}})
	if err != nil || p.Services["debug"].Image != "busybox" {
		t.Errorf("--profile dev: %v", err)
	}
}

func TestFigV1Conversion(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "fig.yml", `
db:
  image: postgres
web:
  build: .
  dockerfile: Dockerfile.dev
  links: [db]
  net: "container:db"
  volumes_from: [db]
`)
	p, err := load(t, dir, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	web := p.Services["web"]
	if web.NetworkMode != "service:db" {
		t.Errorf("net: container:db of a service -> %q", web.NetworkMode)
	}
	if web.Build == nil || web.Build.Dockerfile != "Dockerfile.dev" {
		t.Errorf("dockerfile: %+v", web.Build)
	}
	if !reflect.DeepEqual(web.Links, []string{"db"}) || !reflect.DeepEqual(web.VolumesFrom, []string{"db"}) {
		t.Errorf("links %v volumes_from %v", web.Links, web.VolumesFrom)
	}
}

func TestValidationNamesFileServiceAndField(t *testing.T) {
	for _, tc := range []struct {
		name, file string
		want       []string
	}{
		{"bad port", "services:\n  web:\n    image: x\n    ports: [\"80:80:80\"]\n", []string{`compose.yaml: service "web": ports[0]: "80:80:80" is not a port mapping`}},
		{"no image", "services:\n  web:\n    command: x\n", []string{`service "web": image: a service needs an image or a build section`}},
		{"restart", "services:\n  web:\n    image: x\n    restart: sometimes\n", []string{`service "web": restart: "sometimes" is not one of`}},
		{"cycle", "services:\n  a:\n    image: x\n    depends_on: [b]\n  b:\n    image: x\n    links: [a]\n", []string{"dependency cycle: a -> b -> a"}},
		{"unknown dependency", "services:\n  a:\n    image: x\n    depends_on: [nope]\n", []string{`service "a": depends_on: "nope" is not a service`}},
		{"unsupported key", "services:\n  a:\n    image: x\n    runtime: runsc\n", []string{`service "a": runtime: not supported by berth`}},
		{"undeclared volume", "services:\n  a:\n    image: x\n    volumes: [\"data:/d\"]\n", []string{`service "a": volumes[0]: volume "data" is not declared`}},
		{"log size", "services:\n  a:\n    image: x\n    logging:\n      options:\n        max-size: lots\n        max-file: \"0\"\n", []string{`service "a": logging.options.max-size: "lots" is not a size`, `service "a": logging.options.max-file: "0" is not a number`}},
		// A service that depends on itself made up wait for itself forever.
		{"self dependency", "services:\n  a:\n    image: x\n    depends_on: [a]\n", []string{`service "a": depends_on: dependency cycle: a -> a`}},
		{"self dependency healthy", "services:\n  web:\n    image: x\n    depends_on:\n      web: {condition: service_healthy}\n", []string{`service "web": depends_on: dependency cycle: web -> web`}},
		{"self link", "services:\n  a:\n    image: x\n    links: [\"a:me\"]\n", []string{`service "a": links[0]: dependency cycle`}},
		{"unknown capability", "services:\n  a:\n    image: x\n    cap_add: [CAP_NOT_REAL, NET_ADMIN]\n    cap_drop: [bogus]\n", []string{`service "a": cap_add[0]: "CAP_NOT_REAL" is not a Linux capability`, `service "a": cap_drop[0]: "bogus"`}},
		{"relative target", "services:\n  a:\n    image: x\n    volumes:\n      - type: tmpfs\n        target: data\n", []string{`service "a": volumes[0].target: "data" is not an absolute path`}},
		{"negative replicas", "services:\n  a:\n    image: x\n    deploy: {replicas: -1}\n", []string{`service "a": deploy.replicas: -1 is negative`}},
		{"address outside subnet", "services:\n  a:\n    image: x\n    networks:\n      n: {ipv4_address: 10.9.0.5}\nnetworks:\n  n:\n    ipam:\n      config: [{subnet: 172.30.7.0/24}]\n", []string{`service "a": networks.n.ipv4_address: 10.9.0.5 is outside the subnet of network "n"`}},
		{"address without subnet", "services:\n  a:\n    image: x\n    networks:\n      n: {ipv4_address: 10.9.0.5}\nnetworks:\n  n: {}\n", []string{`service "a": networks.n.ipv4_address: a static address needs a network with a subnet`}},
		{"project name in file", "name: 'Bad Project!'\nservices:\n  a:\n    image: x\n", []string{`compose.yaml: name: "Bad Project!" is not a project name`}},
		{"project name too long", "name: " + strings.Repeat("p", 250) + "\nservices:\n  a:\n    image: x\n", []string{`name: project name is 250 characters long; berth allows at most 200`}},
		{"several at once", "services:\n  a:\n    image: x\n    restart: bad\n  b:\n    command: y\n", []string{`service "a": restart`, `service "b": image`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			write(t, dir, "compose.yaml", tc.file)
			_, err := load(t, dir, LoadOptions{})
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestHostChecksBeforeAnythingIsCreated(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "compose.yaml", `services:
  a:
    image: x
    cpus: 100000
    secrets: [s]
    volumes:
      - type: bind
        source: ./missing
        target: /m
secrets:
  s:
    file: ./nope.txt
`)
	p, err := load(t, dir, LoadOptions{})
	if err != nil {
		t.Fatalf("host-dependent problems must not fail loading (down must still work): %v", err)
	}
	err = checkHost(p, []string{"a"})
	if err == nil {
		t.Fatal("accepted")
	}
	for _, w := range []string{
		`service "a": cpus: 100000 is more than the`,
		`service "a": secrets: secrets.s.file: ` + filepath.Join(dir, "nope.txt") + ` does not exist`,
		`service "a": volumes[0].source: bind source ` + filepath.Join(dir, "missing") + ` does not exist`,
	} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q lacks %q", err, w)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "missing")); err == nil {
		t.Error("the missing bind source was created")
	}
}

// A service of a profile that is not enabled, named by a command, is
// enabled: compose-spec activates the profile of a targeted service. Before,
// `berth run t` answered "no such service".
func TestNamedServiceEnablesItsProfile(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "compose.yaml", "services:\n  db:\n    image: x\n  t:\n    image: x\n    profiles: [oneoff]\n    depends_on: [db]\n  other:\n    image: x\n    profiles: [debug]\n")
	p, err := load(t, dir, LoadOptions{Services: []string{"t"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := p.Services["t"]; !ok {
		t.Error("the named service was not enabled")
	}
	if _, ok := p.Services["other"]; ok {
		t.Error("a service of another profile was enabled")
	}
	p, err = load(t, dir, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := p.Services["t"]; ok {
		t.Error("a profile service was enabled without being named")
	}
}

// An override of a Fig file is in the Fig format too, even when its entries
// have no image or build; before, it was refused as not Fig format.
func TestFigOverrideWithoutImage(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "fig.yml", "net:\n  image: x\n  command: sleep 100\nweb:\n  image: x\n  links: [net]\n")
	write(t, dir, "override.yml", "net:\n  command: sleep 1\n")
	p, err := load(t, dir, LoadOptions{Files: []string{filepath.Join(dir, "fig.yml"), filepath.Join(dir, "override.yml")}})
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Services["net"].Command; !reflect.DeepEqual([]string(got), []string{"sleep", "1"}) {
		t.Errorf("override not applied: %v", got)
	}
	if p.Services["net"].Image != "x" {
		t.Errorf("image lost: %q", p.Services["net"].Image)
	}
}

// Swarm-only keys and storage_opt are reported once per key and the file is
// run without them, as docker compose does; before, the whole file was
// refused.
func TestSwarmOnlyKeysWarnOnce(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "compose.yaml", `services:
  a:
    image: x
    storage_opt: {size: 1G}
    deploy:
      replicas: 2
      update_config: {parallelism: 1}
      rollback_config: {parallelism: 1}
      placement: {constraints: ["node.role == manager"]}
  b:
    image: x
    deploy:
      update_config: {parallelism: 2}
`)
	var warned []string
	p, err := load(t, dir, LoadOptions{Warn: func(m string) { warned = append(warned, m) }})
	if err != nil {
		t.Fatalf("refused: %v", err)
	}
	if *p.Services["a"].Deploy.Replicas != 2 {
		t.Error("replicas lost")
	}
	want := []string{
		"compose.yaml: deploy.placement (services a): ignored: only used by swarm",
		"compose.yaml: deploy.update_config (services a, b): ignored: only used by swarm",
		"compose.yaml: deploy.rollback_config (services a): ignored: only used by swarm",
		"compose.yaml: storage_opt (services a): ignored:",
	}
	if len(warned) != len(want) {
		t.Fatalf("warnings %q, want %d", warned, len(want))
	}
	for i, w := range want {
		if !strings.HasPrefix(warned[i], w) {
			t.Errorf("warning %q, want %q", warned[i], w)
		}
	}
}
