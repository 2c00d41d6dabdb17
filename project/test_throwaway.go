package project

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/berthdev/berth/volumes"
	"github.com/compose-spec/compose-go/v2/types"
)

// ThrowawayOptions describe a throwaway stack.
type ThrowawayOptions struct {
	// SeedFrom names an existing project: each named volume of the stack
	// starts as a copy-on-write layer over that project's volume of the
	// same name, which it never changes.
	SeedFrom string
	// Warn receives what the caller should tell its user: external
	// volumes and networks, which the stack shares.
	Warn   func(msg string)
	Events Events
}

// Throwaway is a stack made from a project under a name of its own,
// <project>-test-<id>, so that any number of them run beside each other
// and beside the project itself: fixed host ports are published on free
// ephemeral ports instead, fixed container names get the stack's suffix,
// and networks and volumes are the stack's own (external ones excepted,
// which are shared). It is marked with its owner, this process, so that if
// the process dies without removing it the next berth command does.
type Throwaway struct {
	// Project is the stack's project.
	Project *Project
	// Base is the name of the project it was made from.
	Base string
	e    *Engine
}

// throwawaySuffix is what a throwaway stack adds to its project's name and
// to fixed container names.
func throwawaySuffix() string {
	b := make([]byte, 4)
	rand.Read(b)
	return "-test-" + hex.EncodeToString(b)
}

// NewThrowaway makes a throwaway stack of p and marks it as this
// process's; nothing of it runs yet. The caller removes it with Remove.
func (e *Engine) NewThrowaway(ctx context.Context, p *Project, opts ThrowawayOptions) (*Throwaway, error) {
	suffix := throwawaySuffix()
	if n := len(p.Name) + len(suffix); n > maxProjectName {
		return nil, fmt.Errorf("project name %q is too long for a throwaway stack: %s%s would be %d characters, berth allows %d", p.Name, p.Name, suffix, n, maxProjectName)
	}
	tp, err := throwawayProject(p, suffix)
	if err != nil {
		return nil, err
	}
	if opts.Warn != nil {
		for _, w := range sharedResources(tp) {
			opts.Warn(w)
		}
	}
	// The mark comes before anything of the stack exists, so that
	// whatever a kill leaves is found.
	if err := os.MkdirAll(e.projectDir(tp.Name), 0o700); err != nil {
		return nil, err
	}
	if err := writeMark(markPath(e.runtime.Root(), tp.Name), newMark(p.Name)); err != nil {
		os.RemoveAll(e.projectDir(tp.Name))
		return nil, fmt.Errorf("marking throwaway stack %s: %w", tp.Name, err)
	}
	t := &Throwaway{Project: tp, Base: p.Name, e: e}
	opts.Events.emit("Project "+tp.Name, "Created")
	if opts.SeedFrom != "" {
		if err := e.seedVolumes(ctx, tp, opts.SeedFrom, opts.Events, opts.Warn); err != nil {
			return t, err
		}
	}
	return t, nil
}

// throwawayProject is p renamed to p.Name+suffix, with what would collide
// with p or another throwaway stack of it made unique.
func throwawayProject(p *Project, suffix string) (*Project, error) {
	fixedNames := map[string]bool{}
	for _, s := range p.Services {
		if s.ContainerName != "" {
			fixedNames[s.ContainerName] = true
		}
	}
	// A reference to a fixed container name of the project follows it.
	rename := func(ref string) string {
		rest, ok := strings.CutPrefix(ref, "container:")
		if !ok {
			return ref
		}
		name, mode, hasMode := strings.Cut(rest, ":")
		if !fixedNames[name] {
			return ref
		}
		out := "container:" + name + suffix
		if hasMode {
			out += ":" + mode
		}
		return out
	}
	tp, err := p.WithServicesTransform(func(_ string, s types.ServiceConfig) (types.ServiceConfig, error) {
		if len(s.Ports) > 0 {
			ports := make([]types.ServicePortConfig, len(s.Ports))
			for i, pc := range s.Ports {
				// The kernel picks a free port when the stack publishes.
				pc.Published = ""
				ports[i] = pc
			}
			s.Ports = ports
		}
		if s.ContainerName != "" {
			s.ContainerName += suffix
		}
		// An image the project builds keeps the project's name, so that
		// every stack shares one build instead of each naming its own.
		if s.Image == "" && s.Build != nil {
			s.Image = imageName(p, s)
		}
		s.NetworkMode, s.Pid, s.Ipc = rename(s.NetworkMode), rename(s.Pid), rename(s.Ipc)
		if len(s.VolumesFrom) > 0 {
			from := make([]string, len(s.VolumesFrom))
			for i, v := range s.VolumesFrom {
				from[i] = rename(v)
			}
			s.VolumesFrom = from
		}
		return s, nil
	})
	if err != nil {
		return nil, err
	}
	tp.Name = p.Name + suffix
	for key, v := range tp.Volumes {
		if !bool(v.External) {
			v.Name = tp.Name + "_" + key
			tp.Volumes[key] = v
		}
	}
	for key, n := range tp.Networks {
		if !bool(n.External) {
			n.Name = tp.Name + "_" + key
			tp.Networks[key] = n
		}
	}
	return tp, nil
}

// sharedResources are warnings for the external volumes and networks a
// throwaway stack shares with whatever else uses them.
func sharedResources(p *Project) []string {
	var out []string
	for key, v := range p.Volumes {
		if bool(v.External) {
			out = append(out, fmt.Sprintf("volume %q is external: the throwaway stack %s shares it, and what the test writes there stays", volumeName(p, key), p.Name))
		}
	}
	for key, n := range p.Networks {
		if bool(n.External) {
			name := n.Name
			if name == "" {
				name = key
			}
			out = append(out, fmt.Sprintf("network %q is external: the throwaway stack %s shares it with the containers on it", name, p.Name))
		}
	}
	sort.Strings(out)
	return out
}

// seedVolumes creates the stack's named volumes as copy-on-write layers
// over the volumes of the same name of project from.
func (e *Engine) seedVolumes(ctx context.Context, p *Project, from string, ev Events, warn func(string)) error {
	all, err := e.volumes.List(ctx)
	if err != nil {
		return err
	}
	source := func(key string) *volumes.Volume {
		for _, v := range all {
			if !v.Anonymous && v.Labels[labelVolumeProject] == from && v.Labels[labelVolumeName] == key {
				return v
			}
		}
		for _, v := range all {
			if v.Name == from+"_"+key {
				return v
			}
		}
		return nil
	}
	var keys, missing []string
	for key, v := range p.Volumes {
		if !bool(v.External) {
			keys = append(keys, key)
		}
	}
	sort.Strings(keys)
	seeded := 0
	for _, key := range keys {
		src := source(key)
		if src == nil {
			missing = append(missing, key)
			continue
		}
		data, err := e.volumes.Prepare(src.Name)
		if err != nil {
			return fmt.Errorf("seeding volume %s: %w", key, err)
		}
		cfg := p.Volumes[key]
		// The seed's content replaces whatever the driver would mount.
		cfg.Driver, cfg.DriverOpts = "", nil
		p.Volumes[key] = cfg
		name := volumeName(p, key)
		labels := map[string]string{labelVolumeProject: p.Name, labelVolumeName: key}
		for k, v := range cfg.Labels {
			labels[k] = v
		}
		if _, _, err := e.volumes.Create(ctx, name, volumes.CreateOptions{Labels: labels, Seed: data}); err != nil {
			return fmt.Errorf("seeding volume %s from %s: %w", key, src.Name, err)
		}
		seeded++
		ev.emit("Volume "+name, "Seeded from "+src.Name)
	}
	if seeded == 0 {
		return fmt.Errorf("seeding from project %s: it has no volume named %s (see `berth volume ls`)", from, strings.Join(missing, ", "))
	}
	if len(missing) > 0 && warn != nil {
		warn(fmt.Sprintf("project %s has no volume %s: the throwaway stack's starts empty", from, strings.Join(missing, ", ")))
	}
	return nil
}

// Remove takes the stack down whole: containers at once, networks,
// volumes, and its mark. It runs to its end even when ctx is cancelled.
func (t *Throwaway) Remove(ctx context.Context, ev Events) error {
	err := t.e.removeThrowaway(ctx, t.Project, ev)
	if err == nil {
		ev.emit("Project "+t.Project.Name, "Removed")
	}
	return err
}

// Keep leaves the stack for debugging: it loses its owner, so no later
// command removes it, until `berth -p NAME down` or `berth test --prune`.
func (t *Throwaway) Keep() error {
	path := markPath(t.e.runtime.Root(), t.Project.Name)
	m, err := readMark(path)
	if err != nil {
		return err
	}
	m.Pid, m.Start, m.Boot, m.PidNS, m.Kept = 0, 0, "", "", true
	return writeMark(path, m)
}
