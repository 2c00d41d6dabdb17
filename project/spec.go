package project

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/berthdev/berth/runtime"
	"github.com/compose-spec/compose-go/v2/types"
	units "github.com/docker/go-units"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// ConfigHash is a stable digest of everything in a service's definition
// that shapes its containers; the scale is left out, so scaling never
// recreates.
func ConfigHash(s types.ServiceConfig) (string, error) {
	s.Scale = nil
	if s.Deploy != nil {
		d := *s.Deploy
		d.Replicas = nil
		s.Deploy = &d
	}
	s.Build = nil // the image ID covers what a build produced
	s.PullPolicy = ""
	b, err := json.Marshal(s)
	if err != nil {
		return "", err
	}
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:]), nil
}

// ContainerName is <project>-<service>-<n>, or the service's
// container_name.
func ContainerName(p *Project, s types.ServiceConfig, n int) string {
	if s.ContainerName != "" {
		return s.ContainerName
	}
	return fmt.Sprintf("%s-%s-%d", p.Name, s.Name, n)
}

// command merges the service's entrypoint and command with the image's,
// as Docker does: an entrypoint in the compose file replaces the image's
// and drops the image's cmd.
func command(s types.ServiceConfig, img v1.Config) []string {
	entry := img.Entrypoint
	cmd := img.Cmd
	if s.Entrypoint != nil {
		entry = s.Entrypoint
		cmd = nil
	}
	if s.Command != nil {
		cmd = s.Command
	}
	return append(append([]string{}, entry...), cmd...)
}

// environment is the image's environment overridden by the service's
// (env_file already merged in by the loader).
func environment(s types.ServiceConfig, img v1.Config) []string {
	vals := map[string]string{}
	var order []string
	set := func(k, v string) {
		if _, ok := vals[k]; !ok {
			order = append(order, k)
		}
		vals[k] = v
	}
	for _, e := range img.Env {
		k, v, _ := strings.Cut(e, "=")
		set(k, v)
	}
	keys := slices.Sorted(maps.Keys(s.Environment))
	for _, k := range keys {
		if v := s.Environment[k]; v != nil {
			set(k, *v)
		}
	}
	out := make([]string, 0, len(order))
	for _, k := range order {
		out = append(out, k+"="+vals[k])
	}
	return out
}

func durationOf(d *types.Duration, def time.Duration) time.Duration {
	if d == nil {
		return def
	}
	return time.Duration(*d)
}

// healthcheck is the service's check, else the image's, unless disabled.
// What the service's leaves unset (the test, a duration, the retries) is
// the image's, as Docker merges them: `healthcheck: {interval: 5s}` keeps
// the image's test, timeout and retries.
func healthcheck(s types.ServiceConfig, img v1.Config) *runtime.Healthcheck {
	if hc := s.HealthCheck; hc != nil {
		if hc.Disable || (len(hc.Test) > 0 && hc.Test[0] == "NONE") {
			return nil
		}
		out := &runtime.Healthcheck{
			Test:          hc.Test,
			Interval:      durationOf(hc.Interval, 0),
			Timeout:       durationOf(hc.Timeout, 0),
			StartPeriod:   durationOf(hc.StartPeriod, 0),
			StartInterval: durationOf(hc.StartInterval, 0),
		}
		if hc.Retries != nil {
			out.Retries = int(*hc.Retries)
		}
		if h := img.Healthcheck; h != nil {
			if len(out.Test) == 0 {
				out.Test = h.Test
			}
			out.Interval = cmp.Or(out.Interval, h.Interval)
			out.Timeout = cmp.Or(out.Timeout, h.Timeout)
			out.StartPeriod = cmp.Or(out.StartPeriod, h.StartPeriod)
			out.Retries = cmp.Or(out.Retries, h.Retries)
		}
		if len(out.Test) == 0 || out.Test[0] == "NONE" {
			return nil
		}
		return out
	}
	if h := img.Healthcheck; h != nil && len(h.Test) > 0 && h.Test[0] != "NONE" {
		return &runtime.Healthcheck{Test: h.Test, Interval: h.Interval, Timeout: h.Timeout, StartPeriod: h.StartPeriod, Retries: h.Retries}
	}
	return nil
}

// restartPolicy reads restart:, or deploy.restart_policy when restart: is
// not set.
func restartPolicy(s types.ServiceConfig) runtime.RestartPolicy {
	r := s.Restart
	if r == "" && s.Deploy != nil && s.Deploy.RestartPolicy != nil {
		switch s.Deploy.RestartPolicy.Condition {
		case "any":
			r = "always"
		case "on-failure":
			r = "on-failure"
			if m := s.Deploy.RestartPolicy.MaxAttempts; m != nil {
				r += ":" + strconv.FormatUint(*m, 10)
			}
		}
	}
	name, max, _ := strings.Cut(r, ":")
	n, _ := strconv.Atoi(max)
	if name == "" {
		name = "no"
	}
	return runtime.RestartPolicy{Name: name, MaxRetries: n}
}

// ServiceSpec converts a service into the runtime's Spec for replica n,
// given the image's configuration. Mounts and networking are added by the
// caller, which owns volumes and networks.
func ServiceSpec(p *Project, s types.ServiceConfig, img v1.Config) (runtime.Spec, error) {
	spec := runtime.Spec{
		Args:        command(s, img),
		Env:         environment(s, img),
		Cwd:         img.WorkingDir,
		User:        img.User,
		GroupAdd:    s.GroupAdd,
		Tty:         s.Tty,
		Stdin:       s.StdinOpen,
		Hostname:    s.Hostname,
		Domainname:  s.DomainName,
		Privileged:  s.Privileged,
		ReadOnly:    s.ReadOnly,
		CapAdd:      s.CapAdd,
		CapDrop:     s.CapDrop,
		Memory:      int64(s.MemLimit),
		MemorySwap:  int64(s.MemSwapLimit),
		CPUs:        float64(s.CPUS),
		PidsLimit:   s.PidsLimit,
		ShmSize:     int64(s.ShmSize),
		Sysctls:     map[string]string(s.Sysctls),
		StopSignal:  img.StopSignal,
		StopTimeout: durationOf(s.StopGracePeriod, 0),
		Restart:     restartPolicy(s),
		Healthcheck: healthcheck(s, img),
	}
	var bad *ValidationError
	sec := readSecurityOpts(p, s, func(field, msg string) {
		if bad == nil {
			bad = &ValidationError{Service: s.Name, Field: field, Msg: msg}
		}
	})
	if bad != nil {
		return spec, bad
	}
	spec.NoNewPrivileges, spec.SeccompUnconfined = sec.NoNewPrivileges, sec.SeccompUnconfined
	if sec.SeccompFile != "" {
		profile, err := os.ReadFile(sec.SeccompFile)
		if err != nil {
			return spec, fmt.Errorf("service %q: %s: seccomp profile: %w", s.Name, sec.SeccompField, err)
		}
		spec.SeccompProfile = profile
	}
	if s.CPUShares > 0 {
		spec.CPUShares = uint64(s.CPUShares)
	}
	if s.Deploy != nil && s.Deploy.Resources.Limits != nil {
		l := s.Deploy.Resources.Limits
		if spec.Memory == 0 {
			spec.Memory = int64(l.MemoryBytes)
		}
		if spec.CPUs == 0 {
			spec.CPUs = float64(l.NanoCPUs)
		}
		if spec.PidsLimit == 0 {
			spec.PidsLimit = l.Pids
		}
	}
	if s.WorkingDir != "" {
		spec.Cwd = s.WorkingDir
	}
	if s.User != "" {
		spec.User = s.User
	}
	if s.StopSignal != "" {
		spec.StopSignal = s.StopSignal
	}
	if s.Init != nil {
		spec.Init = *s.Init
	}
	if s.OomScoreAdj != 0 {
		v := int(s.OomScoreAdj)
		spec.OomScoreAdj = &v
	}
	names := slices.Sorted(maps.Keys(s.Ulimits))
	for _, k := range names {
		u := s.Ulimits[k]
		soft, hard := int64(u.Soft), int64(u.Hard)
		if u.Single != 0 {
			soft, hard = int64(u.Single), int64(u.Single)
		}
		spec.Ulimits = append(spec.Ulimits, runtime.Ulimit{Name: k, Soft: soft, Hard: hard})
	}
	for _, t := range s.Tmpfs {
		target, opts, _ := strings.Cut(t, ":")
		m := runtime.Mount{Type: "tmpfs", Target: target}
		if opts != "" {
			m.Options = strings.Split(opts, ",")
		}
		spec.Mounts = append(spec.Mounts, m)
	}
	if s.Logging != nil {
		if v := s.Logging.Options["max-size"]; v != "" {
			if b, err := units.RAMInBytes(v); err == nil && b > 0 {
				spec.LogMaxSize = b
			}
		}
		if v, err := strconv.Atoi(s.Logging.Options["max-file"]); err == nil {
			spec.LogMaxFiles = v
		} else if spec.LogMaxSize > 0 {
			// As Docker's json-file driver: a size limit alone keeps one file.
			spec.LogMaxFiles = 1
		}
	}
	return spec, nil
}
