package acceptance

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berthdev/berth/internal/busybox"
)

// securityProbe prints the process's no_new_privs bit and seccomp mode (0
// none, 2 filter), then tries a call the default profile refuses a
// container without CAP_SYS_ADMIN (a user namespace, which the kernel
// itself allows) and one every profile but the test's own allows (mkdir).
const securityProbe = `grep -E '^(Seccomp|NoNewPrivs):' /proc/self/status
if unshare -U true 2>/dev/null; then echo unshare ok; else echo unshare refused; fi
if mkdir /tmp/d 2>/dev/null; then echo mkdir ok; else echo mkdir refused; fi`

// security_opt reaches the container: seccomp=unconfined lifts the
// default filter, seccomp=FILE (relative to the project directory)
// replaces it, and no-new-privileges sets the process's no_new_privs.
func TestSecurityOptApplied(t *testing.T) {
	e := newEnv(t)
	e.importBusybox("bb", busybox.Options{})
	e.writeFile("profiles/deny-mkdir.json", `{"defaultAction": "SCMP_ACT_ALLOW",
		"syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}`)
	e.writeFile("compose.yaml", `services:
  default:
    image: bb
    network_mode: none
  unconfined:
    image: bb
    network_mode: none
    security_opt: [seccomp=unconfined]
  nnp:
    image: bb
    network_mode: none
    security_opt: [no-new-privileges]
  profile:
    image: bb
    network_mode: none
    security_opt: ["seccomp:profiles/deny-mkdir.json", "no-new-privileges:true"]
`)
	for _, tc := range []struct {
		service string
		want    []string
	}{
		{"default", []string{"NoNewPrivs:\t0", "Seccomp:\t2", "unshare refused", "mkdir ok"}},
		{"unconfined", []string{"NoNewPrivs:\t0", "Seccomp:\t0", "unshare ok", "mkdir ok"}},
		{"nnp", []string{"NoNewPrivs:\t1", "Seccomp:\t2", "unshare refused", "mkdir ok"}},
		{"profile", []string{"NoNewPrivs:\t1", "Seccomp:\t2", "unshare ok", "mkdir refused"}},
	} {
		t.Run(tc.service, func(t *testing.T) {
			r := e.berth("run", "--rm", "-T", tc.service, "sh", "-c", securityProbe)
			got := strings.Split(strings.TrimSpace(r.Stdout), "\n")
			if r.Code != 0 || strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("exit %d, got:\n%s\nwant:\n%s\nstderr:\n%s", r.Code, r.Stdout, strings.Join(tc.want, "\n"), r.Stderr)
			}
		})
	}
}

// A security_opt berth cannot apply, or a profile it cannot read, is
// refused before anything is created, naming the file, the service and the
// entry: a container must never run with less confinement than its file
// asks for.
func TestSecurityOptRefusedBeforeStart(t *testing.T) {
	e := newEnv(t)
	e.importBusybox("bb", busybox.Options{})
	e.writeFile("bad.json", `{"defaultAction": "SCMP_ACT_MAYBE"}`)
	for _, tc := range []struct{ opt, want string }{
		{"apparmor=unconfined", `service "web": security_opt[1]: "apparmor=unconfined": not supported by berth`},
		{"label:disable", `service "web": security_opt[1]: "label:disable": not supported by berth`},
		{"seccomp=missing.json", `service "web": security_opt[1]: seccomp profile ` + filepath.Join(e.Dir, "missing.json")},
		{"seccomp=bad.json", `service "web": security_opt[1]: seccomp profile ` + filepath.Join(e.Dir, "bad.json") + `: invalid seccomp profile`},
	} {
		t.Run(tc.opt, func(t *testing.T) {
			e.writeFile("compose.yaml", "services:\n  web:\n    image: bb\n    command: sleep 1000\n    security_opt: [no-new-privileges, \""+tc.opt+"\"]\n")
			r := e.berth("up", "-d")
			if r.Code == 0 || !strings.Contains(r.Stderr, "compose.yaml") || !strings.Contains(r.Stderr, tc.want) {
				t.Errorf("exit %d, stderr:\n%s\nwant it to name compose.yaml and %s", r.Code, r.Stderr, tc.want)
			}
			if ents, _ := os.ReadDir(filepath.Join(e.Root, "containers")); len(ents) > 1 {
				t.Errorf("containers created: %v", ents)
			}
			if _, err := os.Stat(filepath.Join(e.Root, "projects", e.Project, "network.json")); err == nil {
				t.Error("a network was made for a refused file")
			}
		})
	}
}
