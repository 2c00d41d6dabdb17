package acceptance

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berthdev/berth/internal/busybox"
)

// Everything that can be known from the file and the host is refused
// before the first bridge, volume or container is made. Before, a
// self-dependency made up wait forever, and an unknown capability, a
// relative mount target, a static address outside the subnet or a missing
// secret file were found only after the project's bridge and nftables
// chains had been created.
func TestUpFrontChecksCreateNothing(t *testing.T) {
	e := newEnv(t)
	e.importBusybox("ubox", busybox.Options{})
	for _, tc := range []struct{ name, file, want string }{
		{"self dependency", "services:\n  a:\n    image: ubox\n    depends_on: [a]\n", `service "a": depends_on: dependency cycle: a -> a`},
		{"unknown capability", "services:\n  a:\n    image: ubox\n    cap_add: [CAP_NOT_REAL]\n", `service "a": cap_add[0]: "CAP_NOT_REAL"`},
		{"relative target", "services:\n  a:\n    image: ubox\n    volumes:\n      - type: volume\n        source: v\n        target: rel/path\nvolumes:\n  v:\n", `service "a": volumes[0].target`},
		{"address outside subnet", "services:\n  a:\n    image: ubox\n    networks:\n      n: {ipv4_address: 10.99.0.5}\nnetworks:\n  n:\n    ipam:\n      config: [{subnet: 172.31.250.0/24}]\n", `service "a": networks.n.ipv4_address`},
		{"missing secret file", "services:\n  a:\n    image: ubox\n    secrets: [s]\nsecrets:\n  s:\n    file: ./absent.txt\n", `service "a": secrets: secrets.s.file`},
		{"missing long-syntax bind source", "services:\n  a:\n    image: ubox\n    volumes:\n      - type: bind\n        source: ./absent-dir\n        target: /x\n", `service "a": volumes[0].source`},
		{"cpus beyond the host", "services:\n  a:\n    image: ubox\n    cpus: 99999\n", `service "a": cpus: 99999 is more than`},
		{"negative replicas", "services:\n  a:\n    image: ubox\n    deploy: {replicas: -1}\n", `service "a": deploy.replicas`},
		{"project name", "name: 'Bad Project!'\nservices:\n  a:\n    image: ubox\n", `name: "Bad Project!" is not a project name`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.writeFile("compose.yaml", tc.file)
			// The project name comes from the file in one case.
			e.Env = []string{"COMPOSE_PROJECT_NAME="}
			if !strings.HasPrefix(tc.file, "name:") {
				e.Env = nil
			}
			r := e.berth("up", "-d")
			e.Env = nil
			if r.Code == 0 || !strings.Contains(r.Stderr, "compose.yaml") || !strings.Contains(r.Stderr, tc.want) {
				t.Fatalf("accepted or badly reported (exit %d), want %q: %s", r.Code, tc.want, r.Stderr)
			}
			assertRootEmpty(t, e.Root)
			if _, err := os.Stat(filepath.Join(e.Dir, "absent-dir")); err == nil {
				t.Error("a long-syntax bind source was created")
			}
		})
	}
	// A project name too long for the kernel's names is refused with the
	// limit, not with nine netlink errors.
	e.writeFile("compose.yaml", "services:\n  a:\n    image: ubox\n")
	r := e.berth("-p", strings.Repeat("p", 250), "up", "-d")
	if r.Code == 0 || !strings.Contains(r.Stderr, "at most 200") {
		t.Errorf("250-character project name: exit %d: %s", r.Code, r.Stderr)
	}
	assertRootEmpty(t, e.Root)
}

// A user without root privileges is told that berth needs root, not
// "mkdir /run/berth/runc: permission denied".
func TestNonRootUserToldBerthNeedsRoot(t *testing.T) {
	e := newEnv(t)
	e.writeFile("compose.yaml", "services:\n  a:\n    image: x\n")
	for _, args := range [][]string{{"up", "-d"}, {"ps"}, {"image", "ls"}, {"volume", "ls"}} {
		full := append([]string{"--reuid=65534", "--regid=65534", "--clear-groups", binary, "--root", e.Root, "--state", e.State}, args...)
		cmd := exec.Command("setpriv", full...)
		cmd.Dir = e.Dir
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), "berth: needs root:") {
			t.Errorf("berth %v as nobody: %v: %s", args, err, out)
		}
	}
}

// A root or state directory reached through a symlink (a relocated
// /var/lib) made every container fail with libcontainer's "invalid rootfs:
// not an absolute path, or a symlink".
func TestRootAndStateThroughSymlinks(t *testing.T) {
	e := newEnv(t)
	real, links := t.TempDir(), t.TempDir()
	for _, d := range []struct{ link, target string }{{"root", "r"}, {"state", "s"}} {
		if err := os.Mkdir(filepath.Join(real, d.target), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(filepath.Join(real, d.target), filepath.Join(links, d.link)); err != nil {
			t.Fatal(err)
		}
	}
	// The harness's leak check looks for the real paths.
	e.Root, e.State = filepath.Join(real, "r"), filepath.Join(real, "s")
	viaLink := func(args ...string) result {
		return e.berth(append([]string{"--root", filepath.Join(links, "root"), "--state", filepath.Join(links, "state")}, args...)...)
	}
	tarball, err := busybox.TarBytes(busybox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r := e.berthIn(tarball, "--root", filepath.Join(links, "root"), "--state", filepath.Join(links, "state"), "image", "import", "-", "sbox"); r.Code != 0 {
		t.Fatalf("import: %s", r.Stderr)
	}
	e.writeFile("compose.yaml", "services:\n  a:\n    image: sbox\n    command: [sleep, '3600']\n    volumes: [\"data:/d\"]\nvolumes:\n  data:\n")
	if r := viaLink("up", "-d"); r.Code != 0 {
		t.Fatalf("up through symlinked root: %s", r.Stderr)
	}
	if r := viaLink("exec", "-T", "a", "touch", "/d/ok"); r.Code != 0 {
		t.Fatalf("exec: %s", r.Stderr)
	}
	if r := viaLink("down", "-v"); r.Code != 0 {
		t.Fatalf("down: %s", r.Stderr)
	}
	assertRootEmpty(t, e.Root)
}
