package acceptance

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/berthdev/berth/internal/busybox"
)

// top lists the processes of the running containers by their host PIDs,
// ls counts the projects' containers by state, and an image that a
// container was made from is kept by image rm and image prune until the
// container is gone: what cmd/berth did itself before project took it.
func TestTopLsAndImagesInUse(t *testing.T) {
	e := newEnv(t)
	e.importBusybox("obox", busybox.Options{})
	e.importBusybox("spare", busybox.Options{Files: map[string][]byte{"spare": []byte("x")}})
	e.writeFile("compose.yaml", "services:\n  app:\n    image: obox\n    command: [sleep, \"3601\"]\n")
	e.must("up", "-d")

	top := e.must("top")
	lines := strings.Split(strings.TrimSpace(top), "\n")
	if len(lines) < 3 || lines[0] != e.Project+"-app-1" || !strings.HasPrefix(lines[1], "UID") {
		t.Fatalf("top:\n%s", top)
	}
	var uid, cmd string
	var pid int
	for _, l := range lines[2:] {
		f := strings.Fields(l)
		if len(f) >= 5 && f[3] == "sleep" && f[4] == "3601" {
			uid, cmd = f[0], f[3]+" "+f[4]
			fmt.Sscan(f[1], &pid)
		}
	}
	if uid != "0" || cmd != "sleep 3601" || pid <= 0 {
		t.Fatalf("top does not list the container's sleep 3601 as root:\n%s", top)
	}
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err != nil || !strings.HasPrefix(string(b), "sleep\x003601") {
		t.Errorf("top's PID %d is not the container's process on the host: %q %v", pid, b, err)
	}

	type lsRow struct{ Name, Status, ConfigFiles string }
	ls := func(args ...string) map[string]lsRow {
		t.Helper()
		var rows []lsRow
		if err := json.Unmarshal([]byte(e.must(append([]string{"ls", "--format", "json"}, args...)...)), &rows); err != nil {
			t.Fatal(err)
		}
		m := map[string]lsRow{}
		for _, r := range rows {
			m[r.Name] = r
		}
		return m
	}
	if r := ls()[e.Project]; r.Status != "running(1)" || !strings.HasSuffix(r.ConfigFiles, "compose.yaml") {
		t.Errorf("ls: %+v", ls())
	}

	r := e.berth("image", "rm", "obox")
	if r.Code == 0 || !strings.Contains(r.Stderr, "in use") {
		t.Errorf("image rm of the image app runs: exit %d %s", r.Code, r.Stderr)
	}
	e.must("image", "prune", "-a")
	if ids := strings.Fields(e.must("image", "ls", "-q")); len(ids) != 1 {
		t.Errorf("image prune -a kept %v, want only obox, which app runs", ids)
	}

	e.must("stop", "-t", "0")
	if _, ok := ls()[e.Project]; ok {
		t.Error("ls lists a project with no running container")
	}
	if r := ls("-a")[e.Project]; r.Status != "exited(1)" {
		t.Errorf("ls -a: %+v", ls("-a"))
	}
	if r := e.berth("image", "rm", "obox"); r.Code == 0 {
		t.Error("image rm removed the image of a stopped container")
	}
	e.must("down", "-t", "0")
	e.must("image", "rm", "obox")
}
