package runtime_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/berthdev/berth/runtime"
)

// requireSeccomp fails a test of the system call filter in a test binary
// built without the seccomp tag: such a berth filters nothing, and the
// test would say nothing about the one that ships.
func requireSeccomp(t *testing.T) {
	t.Helper()
	if !runtime.SeccompSupported() {
		t.Fatal("the test binary was built without the seccomp build tag: run the tests with -tags \"osusergo netgo seccomp\" (make unit)")
	}
}

// seccompProbe prints the process's seccomp mode (0 none, 2 filter), then
// tries a call the default profile forbids without CAP_SYS_ADMIN (a user
// namespace, which the kernel itself allows without it) and one every
// profile but the custom one below allows (mkdir).
const seccompProbe = `grep '^Seccomp:' /proc/self/status
if unshare -U true 2>/tmp/err; then echo unshare ok; else echo "unshare: $(cat /tmp/err)"; fi
if mkdir /tmp/d 2>/tmp/err; then echo mkdir ok; else echo "mkdir: $(cat /tmp/err)"; fi`

func TestSeccompProfiles(t *testing.T) {
	rt := newRuntime(t)
	requireSeccomp(t)
	denyMkdir := `{"defaultAction": "SCMP_ACT_ALLOW",
		"syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}`
	for _, tc := range []struct {
		name  string
		spec  func(*runtime.Spec)
		lines []string
	}{
		{"default", func(*runtime.Spec) {}, []string{"Seccomp:\t2", "unshare: unshare: unshare(0x10000000): Operation not permitted", "mkdir ok"}},
		// The filter follows the capabilities: with CAP_SYS_ADMIN the
		// namespace calls are allowed.
		{"cap_add SYS_ADMIN", func(s *runtime.Spec) { s.CapAdd = []string{"SYS_ADMIN"} }, []string{"Seccomp:\t2", "unshare ok", "mkdir ok"}},
		{"unconfined", func(s *runtime.Spec) { s.SeccompUnconfined = true }, []string{"Seccomp:\t0", "unshare ok", "mkdir ok"}},
		{"privileged", func(s *runtime.Spec) { s.Privileged = true }, []string{"Seccomp:\t0", "unshare ok", "mkdir ok"}},
		{"privileged ignores a profile", func(s *runtime.Spec) { s.Privileged = true; s.SeccompProfile = []byte(denyMkdir) }, []string{"Seccomp:\t0", "unshare ok", "mkdir ok"}},
		{"custom profile", func(s *runtime.Spec) { s.SeccompProfile = []byte(denyMkdir) }, []string{"Seccomp:\t2", "unshare ok", "mkdir: mkdir: can't create directory '/tmp/d': Operation not permitted"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := busyboxSpec(t, "sh", "-c", seccompProbe)
			tc.spec(&s)
			info := create(t, rt, s)
			var out bytes.Buffer
			code, err := rt.Run(context.Background(), info.ID, runtime.Stdio{Out: &out, Err: &out})
			if err != nil || code != 0 {
				t.Fatalf("code %d, err %v, output:\n%s", code, err, out.String())
			}
			if got := strings.Split(strings.TrimSpace(out.String()), "\n"); strings.Join(got, "\n") != strings.Join(tc.lines, "\n") {
				t.Errorf("got:\n%s\nwant:\n%s", out.String(), strings.Join(tc.lines, "\n"))
			}
		})
	}
}

// A process started in a running container, as exec and health probes
// start them, is under the container's filter too.
func TestSeccompFiltersExec(t *testing.T) {
	rt := newRuntime(t)
	requireSeccomp(t)
	ctx := context.Background()
	info := create(t, rt, busyboxSpec(t, "sleep", "1000"))
	if err := rt.Start(ctx, info.ID); err != nil {
		t.Fatal(err)
	}
	for _, privileged := range []bool{false, true} {
		var out bytes.Buffer
		code, err := rt.Exec(ctx, info.ID, runtime.ExecSpec{Args: []string{"sh", "-c", "grep '^Seccomp:' /proc/self/status; unshare -U true"}, Privileged: privileged}, runtime.Stdio{Out: &out, Err: &out})
		if err != nil {
			t.Fatal(err)
		}
		// exec --privileged gets every capability but keeps the
		// container's filter, which was resolved for the container's own.
		if code == 0 || !strings.HasPrefix(out.String(), "Seccomp:\t2\n") || !strings.Contains(out.String(), "Operation not permitted") {
			t.Errorf("exec (privileged %t): code %d, output:\n%s", privileged, code, out.String())
		}
	}
	if err := rt.Stop(ctx, info.ID, time.Second); err != nil {
		t.Fatal(err)
	}
}

func TestCreateRefusesBadSeccompProfile(t *testing.T) {
	rt := newRuntime(t)
	requireSeccomp(t)
	for _, profile := range []string{
		`{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_MAYBE"}]}`,
		`{"defaultAction": "SCMP_ACT_ALLOW",`,
	} {
		s := busyboxSpec(t, "true")
		s.SeccompProfile = []byte(profile)
		if _, err := rt.Create(context.Background(), s); !errors.Is(err, runtime.ErrSeccomp) {
			t.Errorf("profile %s: got %v, want ErrSeccomp", profile, err)
		}
	}
	if infos, _ := rt.List(context.Background()); len(infos) != 0 {
		t.Errorf("a refused profile left %d containers", len(infos))
	}
}
