package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"github.com/berthdev/berth/runtime/image"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func contextBackground() context.Context { return context.Background() }

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

// pullProgress renders layer downloads: a line per layer, updated in place
// on a terminal, one line per finished layer otherwise.
func pullProgress(w io.Writer, g *globalOptions) func(image.Progress) {
	var mu sync.Mutex
	tty := isTerminal(w) && g.Progress != "plain" && g.Ansi != "never"
	if g.Progress == "quiet" {
		return nil
	}
	p, _ := newProgress(w, map[bool]string{true: "tty", false: "plain"}[tty], g.Ansi)
	last := map[string]int64{}
	return func(pr image.Progress) {
		mu.Lock()
		defer mu.Unlock()
		id := "Layer " + shortImageID(strings.TrimPrefix(pr.Layer, "sha256:"))
		switch {
		case pr.Cached:
			p.Event(id, "Already exists")
		case pr.Done:
			p.Event(id, "Pull complete")
		case tty && pr.Complete-last[pr.Layer] > 256<<10:
			last[pr.Layer] = pr.Complete
			p.Event(id, fmt.Sprintf("Downloading %s/%s", humanSize(pr.Complete), humanSize(pr.Total)))
		}
	}
}

func osStderr() io.Writer { return os.Stderr }
