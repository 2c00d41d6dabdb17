package seccomp

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/runc/libcontainer/specconv"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// defaultCaps is Docker's default capability set, which a container has
// unless cap_add or cap_drop change it.
var defaultCaps = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
	"CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
	"CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
}

// rulesFor returns the rules of a resolved filter that name call.
func rulesFor(f *specs.LinuxSeccomp, call string) []specs.LinuxSyscall {
	var out []specs.LinuxSyscall
	for _, r := range f.Syscalls {
		if slices.Contains(r.Names, call) {
			out = append(out, r)
		}
	}
	return out
}

func allowedOutright(f *specs.LinuxSeccomp, call string) bool {
	for _, r := range rulesFor(f, call) {
		if r.Action == specs.ActAllow && len(r.Args) == 0 {
			return true
		}
	}
	return false
}

func TestDefaultSeccompProfileFollowsCapabilities(t *testing.T) {
	modern := kernelVersion{6, 1}
	withCaps := func(extra ...string) []string { return append(slices.Clone(defaultCaps), extra...) }
	for _, tc := range []struct {
		name    string
		caps    []string
		allowed []string
		denied  []string
	}{
		{"default caps", defaultCaps,
			[]string{"read", "mkdirat", "execve", "ptrace", "chroot", "arch_prctl"},
			[]string{"mount", "umount2", "unshare", "setns", "reboot", "bpf", "perf_event_open", "kcmp", "init_module", "settimeofday", "syslog", "open_by_handle_at", "clone3", "iopl"}},
		{"cap_add SYS_ADMIN", withCaps("CAP_SYS_ADMIN"), []string{"mount", "umount2", "unshare", "setns", "clone", "clone3", "bpf", "perf_event_open", "syslog"}, []string{"reboot", "kcmp"}},
		{"cap_add SYS_BOOT, SYS_PTRACE, BPF, PERFMON", withCaps("CAP_SYS_BOOT", "CAP_SYS_PTRACE", "CAP_BPF", "CAP_PERFMON"), []string{"reboot", "kcmp", "pidfd_getfd", "bpf", "perf_event_open"}, []string{"mount", "unshare"}},
		{"cap_drop SYS_CHROOT", slices.DeleteFunc(slices.Clone(defaultCaps), func(c string) bool { return c == "CAP_SYS_CHROOT" }), []string{"read"}, []string{"chroot"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := defaultProfile().resolve(tc.caps, "amd64", modern)
			if f.DefaultAction != specs.ActErrno || f.DefaultErrnoRet == nil || *f.DefaultErrnoRet != 1 {
				t.Errorf("default action %s %v, want EPERM", f.DefaultAction, f.DefaultErrnoRet)
			}
			for _, c := range tc.allowed {
				if !allowedOutright(f, c) {
					t.Errorf("%s is not allowed: %+v", c, rulesFor(f, c))
				}
			}
			for _, c := range tc.denied {
				if allowedOutright(f, c) {
					t.Errorf("%s is allowed", c)
				}
			}
			if _, err := specconv.SetupSeccomp(f); err != nil {
				t.Errorf("libcontainer refuses the filter: %v", err)
			}
		})
	}
}

func TestDefaultSeccompProfileArgumentRules(t *testing.T) {
	f := defaultProfile().resolve(defaultCaps, "amd64", kernelVersion{6, 1})
	clone := rulesFor(f, "clone")
	if len(clone) != 1 || len(clone[0].Args) != 1 || clone[0].Args[0] != (specs.LinuxSeccompArg{Index: 0, Op: specs.OpMaskedEqual, Value: cloneNamespaceFlags}) {
		t.Errorf("clone without CAP_SYS_ADMIN: %+v, want one rule masking the namespace flags of argument 0", clone)
	}
	if c3 := rulesFor(f, "clone3"); len(c3) != 1 || c3[0].Action != specs.ActErrno || *c3[0].ErrnoRet != 38 {
		t.Errorf("clone3 without CAP_SYS_ADMIN: %+v, want ENOSYS", c3)
	}
	var personas []uint64
	for _, r := range rulesFor(f, "personality") {
		personas = append(personas, r.Args[0].Value)
	}
	if !slices.Equal(personas, []uint64{0, 8, 0x20000, 0x20008, 0xffffffff}) {
		t.Errorf("personality values %x", personas)
	}
	if n := len(rulesFor(f, "socket")); n != 3 {
		t.Errorf("socket has %d rules, want 3 (all families but AF_ALG and AF_VSOCK)", n)
	}
	s390 := defaultProfile().resolve(defaultCaps, "s390x", kernelVersion{6, 1})
	if c := rulesFor(s390, "clone"); len(c) != 1 || c[0].Args[0].Index != 1 {
		t.Errorf("clone on s390x: %+v, want the flags in argument 1", c)
	}
}

func TestDefaultSeccompProfileArchitectures(t *testing.T) {
	for _, tc := range []struct {
		native  string
		arches  []specs.Arch
		allowed []string
		denied  []string
	}{
		{"amd64", []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32}, []string{"arch_prctl", "modify_ldt"}, []string{"set_tls"}},
		{"arm64", []specs.Arch{specs.ArchAARCH64, specs.ArchARM}, []string{"set_tls", "cacheflush"}, []string{"arch_prctl", "modify_ldt"}},
	} {
		f := defaultProfile().resolve(defaultCaps, tc.native, kernelVersion{6, 1})
		if !slices.Equal(f.Architectures, tc.arches) {
			t.Errorf("%s: architectures %v, want %v", tc.native, f.Architectures, tc.arches)
		}
		for _, c := range tc.allowed {
			if !allowedOutright(f, c) {
				t.Errorf("%s: %s not allowed", tc.native, c)
			}
		}
		for _, c := range tc.denied {
			if allowedOutright(f, c) {
				t.Errorf("%s: %s allowed", tc.native, c)
			}
		}
	}
	// Before 4.8, ptrace could step around a filter: only CAP_SYS_PTRACE
	// allows it there.
	if old := defaultProfile().resolve(defaultCaps, "amd64", kernelVersion{4, 4}); allowedOutright(old, "ptrace") {
		t.Error("ptrace allowed on 4.4 without CAP_SYS_PTRACE")
	}
}

func TestLoadSeccompProfileResolvesDockerConditions(t *testing.T) {
	p, err := loadProfile([]byte(`{
		"defaultAction": "SCMP_ACT_ERRNO",
		"archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86"]},
		            {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": null}],
		"syscalls": [
			{"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
			{"name": "mount", "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
			{"names": ["clone"], "action": "SCMP_ACT_ALLOW", "comment": "threads only",
			 "args": [{"index": 0, "value": 2114060288, "op": "SCMP_CMP_MASKED_EQ"}],
			 "excludes": {"caps": ["CAP_SYS_ADMIN"], "arches": ["s390x"]}},
			{"names": ["newcall"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "9.0"}}
		]}`))
	if err != nil {
		t.Fatal(err)
	}
	plain := p.resolve(defaultCaps, "amd64", kernelVersion{6, 1})
	admin := p.resolve(append(slices.Clone(defaultCaps), "CAP_SYS_ADMIN"), "arm64", kernelVersion{6, 1})
	if !slices.Equal(plain.Architectures, []specs.Arch{specs.ArchX86_64, specs.ArchX86}) || !slices.Equal(admin.Architectures, []specs.Arch{specs.ArchAARCH64}) {
		t.Errorf("architectures %v, %v", plain.Architectures, admin.Architectures)
	}
	if allowedOutright(plain, "mount") || !allowedOutright(admin, "mount") {
		t.Error("mount: includes caps not followed")
	}
	if len(rulesFor(plain, "clone")) != 1 || len(rulesFor(admin, "clone")) != 0 {
		t.Error("clone: excludes caps not followed")
	}
	if len(rulesFor(plain, "newcall")) != 0 {
		t.Error("newcall: minKernel not followed")
	}
	if _, err := specconv.SetupSeccomp(plain); err != nil {
		t.Error(err)
	}
}

func TestLoadSeccompProfileRefuses(t *testing.T) {
	for _, tc := range []struct{ name, profile, want string }{
		{"empty", ``, "empty"},
		{"syntax", "{\n\"defaultAction\": \"SCMP_ACT_ALLOW\",\n}", "line 3"},
		{"type", "{\"defaultAction\": \"SCMP_ACT_ALLOW\",\n\"syscalls\": {}}", "line 2"},
		{"unknown field", `{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "exclude": {"caps": ["CAP_SYS_ADMIN"]}}]}`, `unknown field "exclude"`},
		{"no default action", `{"syscalls": []}`, "defaultAction: missing"},
		{"unknown action", `{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_MAYBE"}]}`, `syscalls[0]: action: "SCMP_ACT_MAYBE" is not one of`},
		{"notify", `{"defaultAction": "SCMP_ACT_NOTIFY"}`, "seccomp agent"},
		{"name and names", `{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"name": "a", "names": ["b"], "action": "SCMP_ACT_ERRNO"}]}`, "name and names"},
		{"no names", `{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"action": "SCMP_ACT_ERRNO"}]}`, "names: missing"},
		{"arg index", `{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["a"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}]}`, "index 6"},
		{"arg op", `{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["a"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 1, "op": "EQ"}]}]}`, `op "EQ"`},
		{"architecture", `{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_PDP11"]}`, "architectures[0]"},
		{"both architectures and archMap", `{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86"], "archMap": [{"architecture": "SCMP_ARCH_X86_64"}]}`, "one or the other"},
		{"flag", `{"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_FAST"]}`, "flags[0]"},
		{"capability", `{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["a"], "action": "SCMP_ACT_ERRNO", "includes": {"caps": ["SYS_ADMIN"]}}]}`, `includes: caps: "SYS_ADMIN"`},
		{"condition arch", `{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["a"], "action": "SCMP_ACT_ERRNO", "excludes": {"arches": ["x86_64"]}}]}`, `excludes: arches: "x86_64"`},
		{"min kernel", `{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["a"], "action": "SCMP_ACT_ERRNO", "includes": {"minKernel": "five"}}]}`, "minKernel"},
		{"two values", `{"defaultAction": "SCMP_ACT_ALLOW"} {}`, "more than one"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Check([]byte(tc.profile))
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want ErrInvalid with %q", err, tc.want)
			}
		})
	}
}
