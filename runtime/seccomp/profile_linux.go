package seccomp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	goruntime "runtime"
	"slices"
	"strconv"
	"strings"

	"github.com/opencontainers/runc/libcontainer/capabilities"
	libseccomp "github.com/opencontainers/runc/libcontainer/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// profile is a seccomp profile in Docker's JSON format: the OCI
// runtime spec's LinuxSeccomp, whose rules may say which capabilities,
// architectures and kernels they are for (includes, excludes), and whose
// architectures may be given for each native one (archMap). A profile is
// resolved for one container into the OCI form.
type profile struct {
	DefaultAction    specs.LinuxSeccompAction `json:"defaultAction"`
	DefaultErrnoRet  *uint                    `json:"defaultErrnoRet,omitempty"`
	Architectures    []specs.Arch             `json:"architectures,omitempty"`
	ArchMap          []archMap                `json:"archMap,omitempty"`
	Flags            []specs.LinuxSeccompFlag `json:"flags,omitempty"`
	ListenerPath     string                   `json:"listenerPath,omitempty"`
	ListenerMetadata string                   `json:"listenerMetadata,omitempty"`
	Syscalls         []rule                   `json:"syscalls,omitempty"`
}

// archMap lists the architectures a filter covers when berth runs
// on Arch.
type archMap struct {
	Arch      specs.Arch   `json:"architecture"`
	SubArches []specs.Arch `json:"subArchitectures"`
}

// rule gives system calls an action, for the containers that meet
// Includes and do not meet Excludes.
type rule struct {
	Name     string                   `json:"name,omitempty"` // one call, in older profiles
	Names    []string                 `json:"names,omitempty"`
	Action   specs.LinuxSeccompAction `json:"action"`
	ErrnoRet *uint                    `json:"errnoRet,omitempty"`
	Args     []specs.LinuxSeccompArg  `json:"args,omitempty"`
	Comment  string                   `json:"comment,omitempty"`
	Includes *condition               `json:"includes,omitempty"`
	Excludes *condition               `json:"excludes,omitempty"`
}

// condition selects containers by the capabilities in their
// bounding set, the architecture berth runs on (libseccomp's names:
// amd64, x86, arm64, ...) and the kernel's version ("4.8"). A rule
// includes a container that meets every part of its Includes, and
// excludes one that meets any part of its Excludes, as Docker does.
type condition struct {
	Caps      []string `json:"caps,omitempty"`
	Arches    []string `json:"arches,omitempty"`
	MinKernel string   `json:"minKernel,omitempty"`
}

// Check checks a seccomp profile in Docker's JSON format
// (or the OCI runtime spec's, which it extends) before any container
// uses it. Unknown fields are refused: a misspelt "excludes" would
// otherwise give every container what the rule meant for a few.
func Check(data []byte) error {
	_, err := loadProfile(data)
	return err
}

func loadProfile(data []byte) (*profile, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var p profile
	if err := dec.Decode(&p); err != nil {
		var syntax *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syntax):
			return nil, fmt.Errorf("%w: line %d: %v", ErrInvalid, lineAt(data, syntax.Offset), err)
		case errors.As(err, &typ):
			return nil, fmt.Errorf("%w: line %d: %s: want %s, not %s", ErrInvalid, lineAt(data, typ.Offset), typ.Field, typ.Type, typ.Value)
		case errors.Is(err, io.EOF):
			return nil, fmt.Errorf("%w: the file is empty", ErrInvalid)
		}
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: more than one JSON value", ErrInvalid)
	}
	if err := p.check(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return &p, nil
}

func lineAt(data []byte, offset int64) int {
	if offset > int64(len(data)) {
		offset = int64(len(data))
	}
	return bytes.Count(data[:offset], []byte("\n")) + 1
}

// check refuses what libcontainer would refuse only when a container
// starts, and what berth cannot do: SCMP_ACT_NOTIFY needs a seccomp agent
// listening, and berth runs none.
func (p *profile) check() error {
	action := func(a specs.LinuxSeccompAction) error {
		if a == specs.ActNotify {
			return errors.New("SCMP_ACT_NOTIFY needs a seccomp agent, which berth does not run")
		}
		if _, err := libseccomp.ConvertStringToAction(string(a)); err != nil {
			return fmt.Errorf("%q is not one of %s", a, strings.Join(libseccomp.KnownActions(), ", "))
		}
		return nil
	}
	if p.DefaultAction == "" {
		return errors.New("defaultAction: missing (SCMP_ACT_ERRNO denies what the rules do not allow)")
	}
	if err := action(p.DefaultAction); err != nil {
		return fmt.Errorf("defaultAction: %w", err)
	}
	if p.ListenerPath != "" {
		return errors.New("listenerPath: berth runs no seccomp agent")
	}
	if len(p.Architectures) > 0 && len(p.ArchMap) > 0 {
		return errors.New("architectures and archMap: give one or the other")
	}
	arch := func(a specs.Arch) error {
		if _, err := libseccomp.ConvertStringToArch(string(a)); err != nil {
			return fmt.Errorf("%q is not one of %s", a, strings.Join(libseccomp.KnownArchs(), ", "))
		}
		return nil
	}
	for i, a := range p.Architectures {
		if err := arch(a); err != nil {
			return fmt.Errorf("architectures[%d]: %w", i, err)
		}
	}
	for i, m := range p.ArchMap {
		for _, a := range append([]specs.Arch{m.Arch}, m.SubArches...) {
			if err := arch(a); err != nil {
				return fmt.Errorf("archMap[%d]: %w", i, err)
			}
		}
	}
	for i, f := range p.Flags {
		if !slices.Contains(libseccomp.KnownFlags(), string(f)) {
			return fmt.Errorf("flags[%d]: %q is not one of %s", i, f, strings.Join(libseccomp.KnownFlags(), ", "))
		}
	}
	for i, r := range p.Syscalls {
		if err := r.check(action); err != nil {
			return fmt.Errorf("syscalls[%d]: %w", i, err)
		}
	}
	return nil
}

func (r *rule) check(action func(specs.LinuxSeccompAction) error) error {
	switch {
	case r.Name != "" && len(r.Names) > 0:
		return errors.New("name and names: give one or the other")
	case r.Name == "" && len(r.Names) == 0:
		return errors.New("names: missing")
	case slices.Contains(r.Names, ""):
		return errors.New("names: an empty name")
	}
	if r.Action == "" {
		return errors.New("action: missing")
	}
	if err := action(r.Action); err != nil {
		return fmt.Errorf("action: %w", err)
	}
	for i, a := range r.Args {
		if a.Index >= 6 {
			return fmt.Errorf("args[%d]: index %d: a system call has 6 arguments, 0 to 5", i, a.Index)
		}
		if _, err := libseccomp.ConvertStringToOperator(string(a.Op)); err != nil {
			return fmt.Errorf("args[%d]: op %q is not one of %s", i, a.Op, strings.Join(libseccomp.KnownOperators(), ", "))
		}
	}
	if err := r.Includes.check(); err != nil {
		return fmt.Errorf("includes: %w", err)
	}
	if err := r.Excludes.check(); err != nil {
		return fmt.Errorf("excludes: %w", err)
	}
	return nil
}

func (c *condition) check() error {
	if c == nil {
		return nil
	}
	for _, cp := range c.Caps {
		if !knownCap(cp) {
			return fmt.Errorf("caps: %q is not a capability (CAP_SYS_ADMIN, CAP_NET_ADMIN, ...)", cp)
		}
	}
	known := map[string]bool{}
	for _, a := range libseccomp.KnownArchs() {
		n, _ := libseccomp.ConvertStringToArch(a)
		known[n] = true
	}
	for _, a := range c.Arches {
		if !known[a] {
			return fmt.Errorf("arches: %q is not an architecture as libseccomp names them (amd64, x86, x32, arm64, arm, ...)", a)
		}
	}
	if c.MinKernel != "" {
		if _, err := parseKernelVersion(c.MinKernel); err != nil {
			return fmt.Errorf("minKernel: %w", err)
		}
	}
	return nil
}

// knownCap reports whether name is a capability as a profile names it
// (CAP_SYS_ADMIN).
func knownCap(name string) bool {
	return slices.Contains(capabilities.KnownCapabilities(), name)
}

// resolve turns the profile into the OCI filter of a container with the
// capability bounding set caps, on the native architecture under kernel.
func (p *profile) resolve(caps []string, native string, kernel kernelVersion) *specs.LinuxSeccomp {
	out := &specs.LinuxSeccomp{
		DefaultAction:    p.DefaultAction,
		DefaultErrnoRet:  p.DefaultErrnoRet,
		Architectures:    slices.Clone(p.Architectures),
		Flags:            p.Flags,
		ListenerPath:     p.ListenerPath,
		ListenerMetadata: p.ListenerMetadata,
	}
	for _, m := range p.ArchMap {
		if a, _ := libseccomp.ConvertStringToArch(string(m.Arch)); a == native {
			out.Architectures = append([]specs.Arch{m.Arch}, m.SubArches...)
			break
		}
	}
	for _, r := range p.Syscalls {
		if r.Includes != nil && !r.Includes.all(caps, native, kernel) {
			continue
		}
		if r.Excludes != nil && r.Excludes.any(caps, native, kernel) {
			continue
		}
		names := r.Names
		if r.Name != "" {
			names = []string{r.Name}
		}
		out.Syscalls = append(out.Syscalls, specs.LinuxSyscall{Names: names, Action: r.Action, ErrnoRet: r.ErrnoRet, Args: r.Args})
	}
	return out
}

// all reports whether a container meets every part of c.
func (c *condition) all(caps []string, native string, kernel kernelVersion) bool {
	if len(c.Arches) > 0 && !slices.Contains(c.Arches, native) {
		return false
	}
	for _, cp := range c.Caps {
		if !slices.Contains(caps, cp) {
			return false
		}
	}
	if c.MinKernel != "" {
		min, _ := parseKernelVersion(c.MinKernel)
		if !kernel.atLeast(min) {
			return false
		}
	}
	return true
}

// any reports whether a container meets any part of c.
func (c *condition) any(caps []string, native string, kernel kernelVersion) bool {
	if slices.Contains(c.Arches, native) {
		return true
	}
	for _, cp := range c.Caps {
		if slices.Contains(caps, cp) {
			return true
		}
	}
	if c.MinKernel != "" {
		min, _ := parseKernelVersion(c.MinKernel)
		if kernel.atLeast(min) {
			return true
		}
	}
	return false
}

// nativeArch is the architecture berth runs on, as libseccomp (and
// profiles' conditions) name it.
func nativeArch() string {
	switch goruntime.GOARCH {
	case "386":
		return "x86"
	case "mipsle":
		return "mipsel"
	case "mips64le":
		return "mipsel64"
	}
	return goruntime.GOARCH
}

// kernelVersion is a kernel's version and major revision: 6.1 for
// "6.1.0-18-amd64".
type kernelVersion struct{ version, major int }

func (k kernelVersion) atLeast(min kernelVersion) bool {
	return k.version > min.version || k.version == min.version && k.major >= min.major
}

func parseKernelVersion(s string) (kernelVersion, error) {
	a, b, ok := strings.Cut(s, ".")
	v, err1 := strconv.Atoi(a)
	m, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil || v < 0 || m < 0 {
		return kernelVersion{}, fmt.Errorf("%q is not a kernel version such as \"5.10\"", s)
	}
	return kernelVersion{v, m}, nil
}

// kernelRelease is the running kernel's version.
func kernelRelease() (kernelVersion, error) {
	var uts unix.Utsname
	if err := unix.Uname(&uts); err != nil {
		return kernelVersion{}, fmt.Errorf("reading the kernel version: %w", err)
	}
	rel := unix.ByteSliceToString(uts.Release[:])
	var k kernelVersion
	if _, err := fmt.Sscanf(rel, "%d.%d", &k.version, &k.major); err != nil {
		return kernelVersion{}, fmt.Errorf("kernel release %q: %w", rel, err)
	}
	return k, nil
}
