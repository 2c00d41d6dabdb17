package main

import (
	"encoding/json"
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/format"
	"github.com/compose-spec/compose-go/v2/types"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// The parsers of flag values: each turns what the user typed into what
// project takes, and a value that makes no sense into a usage error, so
// that nothing is started before the command line is known to be right.

// parseScale reads --scale SERVICE=NUM.
func parseScale(in []string) (map[string]int, error) {
	out := map[string]int{}
	for _, s := range in {
		name, n, ok := strings.Cut(s, "=")
		v, err := strconv.Atoi(n)
		if !ok || name == "" || err != nil || v < 0 {
			return nil, usageError{fmt.Sprintf("--scale %q: want SERVICE=NUM", s)}
		}
		out[name] = v
	}
	return out, nil
}

// parsePull reads --pull: "policy" (the default) leaves each service to
// its pull_policy.
func parsePull(s string) (string, error) {
	switch s {
	case "", "policy":
		return "", nil
	case types.PullPolicyAlways, types.PullPolicyMissing, types.PullPolicyNever, types.PullPolicyBuild:
		return s, nil
	}
	return "", usageError{fmt.Sprintf("--pull %q: want always, missing, never, build or policy", s)}
}

// parseTimestamp reads --since and --until as docker does: an RFC 3339
// time (or date; without a zone, in local time), Unix seconds with an
// optional fraction, or a duration back from now ("10m").
func parseTimestamp(flag, s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		return now.Add(-d), nil
	}
	if secs, frac, ok := strings.Cut(s, "."); secs != "" {
		if n, err := strconv.ParseInt(secs, 10, 64); err == nil {
			var ns int64
			if ok {
				f, err := strconv.ParseFloat("0."+frac, 64)
				if err != nil || strings.ContainsAny(frac, "+-eE") {
					return time.Time{}, usageError{fmt.Sprintf("%s %q: not a time", flag, s)}
				}
				ns = int64(f * 1e9)
			}
			return time.Unix(n, ns), nil
		}
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.Local); err == nil {
			return t, nil
		}
	}
	return time.Time{}, usageError{fmt.Sprintf("%s %q: want an RFC 3339 time, Unix seconds or a duration", flag, s)}
}

// parseTail reads logs --tail: a number of lines, or "all".
func parseTail(s string) (int, error) {
	if s == "all" || s == "" {
		return -1, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, usageError{fmt.Sprintf("--tail %q: want a number or all", s)}
	}
	return n, nil
}

// parseEnv reads -e: KEY=VALUE as it is, and a bare KEY from berth's own
// environment (lookup), left out when it is not set there, as docker does.
func parseEnv(in []string, lookup func(string) (string, bool)) ([]string, error) {
	var out []string
	for _, kv := range in {
		k, _, ok := strings.Cut(kv, "=")
		if k == "" || strings.ContainsAny(k, " \t\n") {
			return nil, usageError{fmt.Sprintf("-e %q: want KEY=VALUE or KEY", kv)}
		}
		if ok {
			out = append(out, kv)
			continue
		}
		if v, set := lookup(k); set {
			out = append(out, k+"="+v)
		}
	}
	return out, nil
}

// parseLabels reads -l KEY=VALUE (a bare KEY has an empty value).
func parseLabels(flag string, in []string) (map[string]string, error) {
	out := map[string]string{}
	for _, kv := range in {
		k, v, _ := strings.Cut(kv, "=")
		if k == "" {
			return nil, usageError{fmt.Sprintf("%s %q: want KEY=VALUE", flag, kv)}
		}
		out[k] = v
	}
	return out, nil
}

// parseVolumes reads run -v in compose's short syntax
// (SOURCE:TARGET[:MODE], or an anonymous volume's TARGET).
func parseVolumes(in []string) ([]types.ServiceVolumeConfig, error) {
	var out []types.ServiceVolumeConfig
	for _, spec := range in {
		v, err := format.ParseVolume(spec)
		if err != nil {
			return nil, usageError{fmt.Sprintf("-v %q: %v", spec, err)}
		}
		if !path.IsAbs(v.Target) {
			return nil, usageError{fmt.Sprintf("-v %q: the path in the container must be absolute", spec)}
		}
		out = append(out, v)
	}
	return out, nil
}

// parsePublish reads run -p in compose's short syntax:
// [[IP:]HOST_PORT:]CONTAINER_PORT[/PROTOCOL], ranges included.
func parsePublish(in []string) ([]types.ServicePortConfig, error) {
	var out []types.ServicePortConfig
	for _, spec := range in {
		ports, err := types.ParsePortConfig(spec)
		if err != nil {
			return nil, usageError{fmt.Sprintf("-p %q: %v", spec, err)}
		}
		out = append(out, ports...)
	}
	return out, nil
}

// parsePrivatePort reads the PRIVATE_PORT of `berth port` and its
// --protocol.
func parsePrivatePort(port, protocol string) (int, error) {
	if protocol != "tcp" && protocol != "udp" {
		return 0, usageError{fmt.Sprintf("--protocol %q: want tcp or udp", protocol)}
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return 0, usageError{fmt.Sprintf("%q is not a port number", port)}
	}
	return n, nil
}

// checkFormat refuses an output format that a command does not have.
func checkFormat(format string, formats ...string) error {
	for _, f := range formats {
		if format == f {
			return nil
		}
	}
	return usageError{fmt.Sprintf("--format %q: want %s", format, strings.Join(formats, " or "))}
}

// parseChanges reads `docker import --change` style instructions.
func parseChanges(changes []string) (v1.Config, error) {
	var c v1.Config
	for _, ch := range changes {
		instr, arg, _ := strings.Cut(strings.TrimSpace(ch), " ")
		arg = strings.TrimSpace(arg)
		list := func() ([]string, error) {
			if strings.HasPrefix(arg, "[") {
				var l []string
				if err := json.Unmarshal([]byte(arg), &l); err != nil {
					return nil, usageError{fmt.Sprintf("--change %q: %v", ch, err)}
				}
				return l, nil
			}
			return []string{"/bin/sh", "-c", arg}, nil
		}
		var err error
		switch strings.ToUpper(instr) {
		case "CMD":
			c.Cmd, err = list()
		case "ENTRYPOINT":
			c.Entrypoint, err = list()
		case "ENV":
			k, v, ok := strings.Cut(arg, "=")
			if !ok {
				k, v, _ = strings.Cut(arg, " ")
			}
			c.Env = append(c.Env, k+"="+strings.TrimSpace(v))
		case "WORKDIR":
			c.WorkingDir = arg
		case "USER":
			c.User = arg
		case "STOPSIGNAL":
			c.StopSignal = arg
		case "EXPOSE":
			if c.ExposedPorts == nil {
				c.ExposedPorts = map[string]struct{}{}
			}
			for _, p := range strings.Fields(arg) {
				if !strings.Contains(p, "/") {
					p += "/tcp"
				}
				c.ExposedPorts[p] = struct{}{}
			}
		case "LABEL":
			k, v, _ := strings.Cut(arg, "=")
			if c.Labels == nil {
				c.Labels = map[string]string{}
			}
			c.Labels[k] = strings.Trim(v, `"`)
		default:
			return c, usageError{fmt.Sprintf("--change %q: want CMD, ENTRYPOINT, ENV, WORKDIR, USER, STOPSIGNAL, EXPOSE or LABEL", ch)}
		}
		if err != nil {
			return c, err
		}
	}
	if len(c.Env) > 0 {
		has := false
		for _, e := range c.Env {
			has = has || strings.HasPrefix(e, "PATH=")
		}
		if !has {
			c.Env = append([]string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}, c.Env...)
		}
	}
	return c, nil
}

func parsePlatform(s string) (v1.Platform, error) {
	p, err := v1.ParsePlatform(s)
	if err != nil {
		return v1.Platform{}, usageError{fmt.Sprintf("--platform %q: %v", s, err)}
	}
	return *p, nil
}
