package project

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const throwawayCompose = `name: app
services:
  db:
    image: db
    container_name: appdb
    ports: ["5432:5432", "127.0.0.1:6000:6000/udp", "7000"]
    volumes: ["data:/data", "shared:/shared"]
  side:
    image: db
    network_mode: "container:appdb"
    volumes_from: ["container:appdb:ro", "container:elsewhere"]
  api:
    build: .
    networks: [back, outside]
volumes:
  data:
  named:
    name: fixed-name
  shared:
    external: true
networks:
  back:
  outside:
    external: true
    name: corp
`

// A throwaway stack of a project collides neither with the project nor
// with another stack of it: every name and fixed host port that would is
// made its own, and what is external is kept.
func TestThrowawayProjectMakesCollidingNamesItsOwn(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "compose.yaml", throwawayCompose)
	p, err := load(t, dir, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tp, err := throwawayProject(p, "-test-0a1b2c3d")
	if err != nil {
		t.Fatal(err)
	}
	if tp.Name != "app-test-0a1b2c3d" {
		t.Errorf("name %q", tp.Name)
	}
	db := tp.Services["db"]
	if db.ContainerName != "appdb-test-0a1b2c3d" {
		t.Errorf("container_name %q", db.ContainerName)
	}
	for _, pc := range db.Ports {
		if pc.Published != "" {
			t.Errorf("port %d is still published on host port %s", pc.Target, pc.Published)
		}
	}
	if got := db.Ports[1]; got.HostIP != "127.0.0.1" || got.Protocol != "udp" {
		t.Errorf("host IP or protocol lost: %+v", got)
	}
	side := tp.Services["side"]
	if side.NetworkMode != "container:appdb-test-0a1b2c3d" {
		t.Errorf("network_mode %q does not follow the renamed container", side.NetworkMode)
	}
	if want := []string{"container:appdb-test-0a1b2c3d:ro", "container:elsewhere"}; strings.Join(side.VolumesFrom, " ") != strings.Join(want, " ") {
		t.Errorf("volumes_from %v, want %v", side.VolumesFrom, want)
	}
	if img := tp.Services["api"].Image; img != "app-api" {
		t.Errorf("a built image is named %q; every stack should share the project's app-api", img)
	}
	for key, want := range map[string]string{"data": "app-test-0a1b2c3d_data", "named": "app-test-0a1b2c3d_named", "shared": "shared"} {
		if got := volumeName(tp, key); got != want {
			t.Errorf("volume %s is %q, want %q", key, got, want)
		}
	}
	if n := tp.Networks["back"].Name; n != "app-test-0a1b2c3d_back" {
		t.Errorf("network back is %q", n)
	}
	if n := tp.Networks["outside"].Name; n != "corp" {
		t.Errorf("external network renamed to %q", n)
	}
	warnings := strings.Join(sharedResources(tp), "\n")
	for _, want := range []string{`volume "shared" is external`, `network "corp" is external`} {
		if !strings.Contains(warnings, want) {
			t.Errorf("no warning %q in:\n%s", want, warnings)
		}
	}
	// The project itself is left as it was.
	if p.Name != "app" || p.Services["db"].ContainerName != "appdb" || p.Services["db"].Ports[0].Published != "5432" || volumeName(p, "data") != "app_data" {
		t.Errorf("the original project changed: %s %+v", p.Name, p.Services["db"])
	}
}

func TestAddrEnv(t *testing.T) {
	for _, tc := range []struct {
		service string
		port    int
		proto   string
		want    string
	}{
		{"db", 5432, "tcp", "BERTH_ADDR_DB_5432"},
		{"my-web.1", 80, "tcp", "BERTH_ADDR_MY_WEB_1_80"},
		{"dns", 53, "udp", "BERTH_ADDR_DNS_53_UDP"},
	} {
		if got := AddrEnv(tc.service, tc.port, tc.proto); got != tc.want {
			t.Errorf("AddrEnv(%q, %d, %s) = %s, want %s", tc.service, tc.port, tc.proto, got, tc.want)
		}
	}
}

// An owner is this process while it runs; a process that ended, a pid
// reused by another process and another boot are not it.
func TestThrowawayOwner(t *testing.T) {
	path := filepath.Join(t.TempDir(), throwawayFile)
	m := newMark("app")
	if err := writeMark(path, m); err != nil {
		t.Fatal(err)
	}
	got, err := readMark(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.ownerGone() {
		t.Errorf("the running owner is taken for gone: %+v", got)
	}
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	dead := m
	dead.Pid = cmd.ProcessState.Pid()
	if !dead.ownerGone() {
		t.Error("an owner that exited is taken for running")
	}
	reused := m
	reused.Start++
	if !reused.ownerGone() {
		t.Error("another process with the owner's pid is taken for the owner")
	}
	rebooted := m
	rebooted.Boot = "another boot"
	if !rebooted.ownerGone() {
		t.Error("an owner of another boot is taken for running")
	}
	elsewhere := dead
	elsewhere.PidNS = "pid:[1]"
	if elsewhere.ownerGone() {
		t.Error("an owner in another pid namespace, which cannot be seen from here, is taken for gone")
	}
	kept := throwawayMark{Kept: true, Created: time.Now()}
	if kept.ownerGone() {
		t.Error("a kept stack is taken for abandoned")
	}
	if _, err := os.Stat(path + ".tmp"); err == nil {
		t.Error("the mark's temporary file is left")
	}
}
