package project

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/berthdev/berth/runtime"
	"github.com/berthdev/berth/volumes"
	"github.com/compose-spec/compose-go/v2/types"
	securejoin "github.com/cyphar/filepath-securejoin"
)

// Labels of anonymous volumes, so a recreated container finds its
// predecessor's.
const (
	labelVolumeProject   = "com.docker.compose.project"
	labelVolumeName      = "com.docker.compose.volume"
	labelAnonContainer   = "berth.anonymous.container"
	labelAnonTarget      = "berth.anonymous.target"
	labelAnonServiceSlot = "berth.anonymous.slot"
)

// volumeName is the store name of a project volume: its name: key (which
// the loader fills with <project>_<key> when absent).
func volumeName(p *Project, key string) string {
	if v, ok := p.Volumes[key]; ok && v.Name != "" {
		return v.Name
	}
	return p.Name + "_" + key
}

// ensureVolumes creates the named volumes the services use; external ones
// must exist already.
func (e *Engine) ensureVolumes(ctx context.Context, p *Project, services []string, ev Events) error {
	used := map[string]bool{}
	for _, name := range services {
		for _, v := range p.Services[name].Volumes {
			if v.Type == types.VolumeTypeVolume && v.Source != "" {
				used[v.Source] = true
			}
		}
	}
	keys := slices.Sorted(maps.Keys(used))
	for _, key := range keys {
		cfg, ok := p.Volumes[key]
		if !ok {
			return &ValidationError{Field: "volumes", Msg: fmt.Sprintf("volume %q is used by a service but not declared under the top-level volumes:", key)}
		}
		name := volumeName(p, key)
		if bool(cfg.External) {
			if _, err := e.volumes.Get(ctx, name); err != nil {
				return fmt.Errorf("external volume %q: %w (create it with `berth volume create %s`)", name, err, name)
			}
			continue
		}
		labels := map[string]string{labelVolumeProject: p.Name, labelVolumeName: key}
		for k, v := range cfg.Labels {
			labels[k] = v
		}
		_, created, err := e.volumes.Create(ctx, name, volumes.CreateOptions{Driver: cfg.Driver, Options: cfg.DriverOpts, Labels: labels})
		if err != nil {
			return err
		}
		if created {
			ev.emit("Volume "+name, "Created")
		}
	}
	return nil
}

// attachVolumes adds a container's mounts: volumes (named, anonymous and
// the image's VOLUMEs), binds, tmpfs, volumes_from, secrets and configs.
func (e *Engine) attachVolumes(ctx context.Context, p *Project, s types.ServiceConfig, spec *runtime.Spec, img *serviceImage, old *container) error {
	targets := map[string]bool{}
	for _, m := range spec.Mounts {
		targets[m.Target] = true
	}
	add := func(m runtime.Mount) {
		spec.Mounts = append(spec.Mounts, m)
		targets[filepath.Clean(m.Target)] = true
	}
	fail := func(err error) error {
		e.volumes.Release(spec.ID)
		return err
	}
	for i, v := range s.Volumes {
		field := fmt.Sprintf("volumes[%d]", i)
		switch v.Type {
		case types.VolumeTypeBind:
			if _, err := os.Stat(v.Source); err != nil {
				if v.Bind != nil && !bool(v.Bind.CreateHostPath) {
					return fail(&ValidationError{Service: s.Name, Field: field, Msg: fmt.Sprintf("bind source %s does not exist, and create_host_path is false", v.Source)})
				}
				if err := os.MkdirAll(v.Source, 0o755); err != nil {
					return fail(fmt.Errorf("service %q: %s: creating %s: %w", s.Name, field, v.Source, err))
				}
			}
			m := runtime.Mount{Type: "bind", Source: v.Source, Target: v.Target, ReadOnly: v.ReadOnly}
			if v.Bind != nil && v.Bind.Propagation != "" {
				m.Propagation = v.Bind.Propagation
			}
			add(m)
		case types.VolumeTypeTmpfs:
			m := runtime.Mount{Type: "tmpfs", Target: v.Target, ReadOnly: v.ReadOnly}
			if v.Tmpfs != nil {
				if v.Tmpfs.Size > 0 {
					m.Options = append(m.Options, fmt.Sprintf("size=%d", int64(v.Tmpfs.Size)))
				}
				if v.Tmpfs.Mode != 0 {
					m.Options = append(m.Options, fmt.Sprintf("mode=%o", v.Tmpfs.Mode))
				}
			}
			add(m)
		case types.VolumeTypeVolume:
			var name string
			var anonymous bool
			if v.Source == "" {
				anonymous = true
				var err error
				if name, err = e.anonymousVolume(ctx, p, s, spec, v.Target, old); err != nil {
					return fail(err)
				}
			} else {
				name = volumeName(p, v.Source)
			}
			nocopy := v.Volume != nil && v.Volume.NoCopy
			src, err := e.volumeSource(ctx, name, img.Layers, v.Target, nocopy)
			if err != nil {
				return fail(fmt.Errorf("service %q: %s: %w", s.Name, field, err))
			}
			m := runtime.Mount{Type: "bind", Source: src, Target: v.Target, ReadOnly: v.ReadOnly}
			if v.Volume != nil && v.Volume.Subpath != "" {
				// The runtime resolves the subpath again at each start;
				// this check only refuses a wrong one before anything runs.
				// Containers write the volume's content: its symlinks are
				// resolved inside the volume, never on the host.
				sub, err := securejoin.SecureJoin(src, v.Volume.Subpath)
				if err != nil {
					return fail(&ValidationError{Service: s.Name, Field: field + ".volume.subpath", Msg: fmt.Sprintf("%q: %v", v.Volume.Subpath, err)})
				}
				if sub == src {
					return fail(&ValidationError{Service: s.Name, Field: field + ".volume.subpath", Msg: "subpath is the volume itself"})
				}
				if _, err := os.Lstat(sub); err != nil {
					return fail(&ValidationError{Service: s.Name, Field: field + ".volume.subpath", Msg: fmt.Sprintf("%q does not exist in volume %s", v.Volume.Subpath, name)})
				}
				m.Subpath = v.Volume.Subpath
			}
			if err := e.volumes.Acquire(name, spec.ID); err != nil {
				return fail(err)
			}
			_ = anonymous
			add(m)
		default:
			return fail(&ValidationError{Service: s.Name, Field: field + ".type", Msg: fmt.Sprintf("%q is not supported by berth (bind, volume, tmpfs)", v.Type)})
		}
	}
	// volumes_from: the producer's volumes at the same paths.
	for i, from := range s.VolumesFrom {
		mounts, err := e.volumesFrom(ctx, p, from)
		if err != nil {
			return fail(fmt.Errorf("service %q: volumes_from[%d]: %w", s.Name, i, err))
		}
		for _, m := range mounts {
			if targets[filepath.Clean(m.Target)] {
				continue
			}
			if name := e.volumeOf(m.Source); name != "" {
				if err := e.volumes.Acquire(name, spec.ID); err != nil {
					return fail(err)
				}
			}
			add(m)
		}
	}
	// The image's VOLUMEs not mounted otherwise get anonymous volumes.
	imageVols := slices.Sorted(maps.Keys(img.Image.Config.Config.Volumes))
	for _, t := range imageVols {
		if targets[filepath.Clean(t)] {
			continue
		}
		name, err := e.anonymousVolume(ctx, p, s, spec, t, old)
		if err != nil {
			return fail(err)
		}
		src, err := e.volumeSource(ctx, name, img.Layers, t, false)
		if err != nil {
			return fail(err)
		}
		if err := e.volumes.Acquire(name, spec.ID); err != nil {
			return fail(err)
		}
		add(runtime.Mount{Type: "bind", Source: src, Target: t})
	}
	return e.attachSecrets(p, s, spec, targets)
}

// volumeSource prepares a volume for mounting and, on its first use,
// fills it from the image (unless nocopy).
func (e *Engine) volumeSource(ctx context.Context, name string, layers []string, target string, nocopy bool) (string, error) {
	src, err := e.volumes.Prepare(name)
	if err != nil {
		return "", err
	}
	v, err := e.volumes.Get(ctx, name)
	if err != nil {
		return "", err
	}
	if !v.Initialized {
		if !nocopy {
			if err := volumes.CopyUp(src, layers, target); err != nil {
				return "", fmt.Errorf("volume %s: %w", name, err)
			}
		}
		if err := e.volumes.MarkInitialized(name); err != nil {
			return "", err
		}
	}
	return src, nil
}

// anonymousVolume returns the anonymous volume for a container's target:
// its predecessor's when recreating (so data survives), else a new one.
func (e *Engine) anonymousVolume(ctx context.Context, p *Project, s types.ServiceConfig, spec *runtime.Spec, target string, old *container) (string, error) {
	if old != nil {
		all, err := e.volumes.List(ctx)
		if err != nil {
			return "", err
		}
		for _, v := range all {
			if v.Anonymous && v.Labels[labelAnonContainer] == old.ID && v.Labels[labelAnonTarget] == target {
				v.Labels[labelAnonContainer] = spec.ID
				if err := e.volumes.SetLabels(v.Name, v.Labels); err != nil {
					return "", err
				}
				return v.Name, nil
			}
		}
	}
	name := newContainerID()
	_, _, err := e.volumes.Create(ctx, name, volumes.CreateOptions{Anonymous: true, Labels: map[string]string{
		labelVolumeProject:   p.Name,
		labelAnonContainer:   spec.ID,
		labelAnonTarget:      target,
		labelAnonServiceSlot: s.Name + "-" + spec.Labels[LabelNumber],
	}})
	return name, err
}

// volumeOf names the volume whose data directory src is in, or "".
func (e *Engine) volumeOf(src string) string {
	root := filepath.Join(e.runtime.Root(), "volumes") + "/"
	rest, ok := strings.CutPrefix(src, root)
	if !ok {
		return ""
	}
	name, _, _ := strings.Cut(rest, "/")
	return name
}

// volumesFrom resolves `service`, `service:ro`, `container:NAME[:ro]` to
// the producer's mounts. The producer needs only to exist (a Fig data-only
// container that exited at once is the usual case).
func (e *Engine) volumesFrom(ctx context.Context, p *Project, from string) ([]runtime.Mount, error) {
	parts := strings.Split(from, ":")
	mode := ""
	var info runtime.Info
	if parts[0] == "container" {
		if len(parts) < 2 {
			return nil, fmt.Errorf("%q: want container:NAME", from)
		}
		if len(parts) > 2 {
			mode = parts[2]
		}
		var err error
		if info, err = e.runtime.Inspect(ctx, parts[1]); err != nil {
			return nil, err
		}
	} else {
		if len(parts) > 1 {
			mode = parts[1]
		}
		c, err := e.serviceContainer(ctx, p, parts[0], 1)
		if err != nil {
			return nil, err
		}
		info = c.Info
	}
	if mode != "" && mode != "ro" && mode != "rw" {
		return nil, fmt.Errorf("%q: mode %q is not ro or rw", from, mode)
	}
	var out []runtime.Mount
	for _, m := range info.Spec.Mounts {
		// Its /etc/hosts, resolv.conf and hostname are the source's
		// network identity, not volumes: Docker leaves them too.
		if m.Type != "bind" || runtime.IsEtcTarget(m.Target) {
			continue
		}
		if mode == "ro" {
			m.ReadOnly = true
		} else if mode == "rw" {
			m.ReadOnly = false
		}
		out = append(out, m)
	}
	return out, nil
}

func (e *Engine) releaseVolumes(containerID string) { e.volumes.Release(containerID) }

// removeVolumes is `down -v`: the project's named volumes (never external
// ones) and its anonymous ones.
func (e *Engine) removeVolumes(ctx context.Context, p *Project, ev Events) error {
	var errs []error
	for key, cfg := range p.Volumes {
		if bool(cfg.External) {
			continue
		}
		name := volumeName(p, key)
		err := e.volumes.Remove(ctx, name, false)
		if errors.Is(err, volumes.ErrNotFound) {
			continue
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		ev.emit("Volume "+name, "Removed")
	}
	all, err := e.volumes.List(ctx)
	if err != nil {
		return err
	}
	for _, v := range all {
		if v.Anonymous && v.Labels[labelVolumeProject] == p.Name && len(e.volumes.Users(v.Name)) == 0 {
			errs = append(errs, e.volumes.Remove(ctx, v.Name, false))
		}
	}
	return errors.Join(errs...)
}
