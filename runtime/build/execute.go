package build

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/berthdev/berth/internal/statefile"
	"github.com/berthdev/berth/runtime"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
	archive "github.com/moby/go-archive"
)

// env is the environment instructions expand against: the image's ENV
// and the stage's ARGs.
func stageEnv(sr *stageResult, args map[string]string) []string {
	out := append([]string{}, sr.cfg.Config.Env...)
	keys := slices.Sorted(maps.Keys(args))
	for _, k := range keys {
		if !hasKey(out, k) {
			out = append(out, k+"="+args[k])
		}
	}
	return out
}

func hasKey(env []string, k string) bool {
	for _, e := range env {
		if strings.HasPrefix(e, k+"=") {
			return true
		}
	}
	return false
}

func setEnv(env []string, k, v string) []string {
	for i, e := range env {
		if strings.HasPrefix(e, k+"=") {
			env[i] = k + "=" + v
			return env
		}
	}
	return append(env, k+"="+v)
}

// execute runs one instruction of stage i.
func (r *run) execute(ctx context.Context, stage, n, total int, sr *stageResult, args map[string]string, c instructions.Command) error {
	env := stageEnv(sr, args)
	if ex, ok := c.(instructions.SupportsSingleWordExpansion); ok {
		lex := shell.NewLex('\\')
		err := ex.Expand(func(word string) (string, error) {
			out, _, err := lex.ProcessWord(word, shell.EnvsFromSlice(env))
			return out, err
		})
		if err != nil {
			return r.stepError(c, err)
		}
	}
	text := fmt.Sprint(c)
	r.printf("#%d [stage-%d %d/%d] %s\n", r.step, stage, n+1, total, text)
	cfg := &sr.cfg.Config
	meta := func(change func()) error {
		change()
		sr.key = hashKey(sr.key, text)
		sr.dirty = true
		return nil
	}
	switch cmd := c.(type) {
	case *instructions.EnvCommand:
		return meta(func() {
			for _, kv := range cmd.Env {
				cfg.Env = setEnv(cfg.Env, kv.Key, kv.Value)
			}
		})
	case *instructions.ArgCommand:
		for _, kv := range cmd.Args {
			v, given := r.opts.Args[kv.Key]
			switch {
			case given:
			case kv.Value != nil:
				v = *kv.Value
			default:
				if g, ok := r.global[kv.Key]; ok {
					v = g
				}
			}
			args[kv.Key] = v
		}
		sr.key = hashKey(sr.key, text, fmt.Sprint(args))
		return nil
	case *instructions.LabelCommand:
		return meta(func() {
			if cfg.Labels == nil {
				cfg.Labels = map[string]string{}
			}
			for _, kv := range cmd.Labels {
				cfg.Labels[kv.Key] = kv.Value
			}
		})
	case *instructions.MaintainerCommand:
		return meta(func() {})
	case *instructions.UserCommand:
		return meta(func() { cfg.User = cmd.User })
	case *instructions.ExposeCommand:
		return meta(func() {
			if cfg.ExposedPorts == nil {
				cfg.ExposedPorts = map[string]struct{}{}
			}
			for _, p := range cmd.Ports {
				if !strings.Contains(p, "/") {
					p += "/tcp"
				}
				cfg.ExposedPorts[p] = struct{}{}
			}
		})
	case *instructions.VolumeCommand:
		return meta(func() {
			if cfg.Volumes == nil {
				cfg.Volumes = map[string]struct{}{}
			}
			for _, v := range cmd.Volumes {
				cfg.Volumes[v] = struct{}{}
			}
		})
	case *instructions.StopSignalCommand:
		return meta(func() { cfg.StopSignal = cmd.Signal })
	case *instructions.EntrypointCommand:
		return meta(func() {
			cfg.Entrypoint = r.withShell(sr, cmd.CmdLine, cmd.PrependShell)
			if !r.cmdSetInStage {
				cfg.Cmd = nil
			}
		})
	case *instructions.CmdCommand:
		return meta(func() { cfg.Cmd = r.withShell(sr, cmd.CmdLine, cmd.PrependShell); r.cmdSetInStage = true })
	case *instructions.ShellCommand:
		return meta(func() { cfg.Shell = cmd.Shell })
	case *instructions.OnbuildCommand:
		return meta(func() { cfg.OnBuild = append(cfg.OnBuild, cmd.Expression) })
	case *instructions.HealthCheckCommand:
		return meta(func() {
			h := cmd.Health
			cfg.Healthcheck = &v1.HealthConfig{Test: h.Test, Interval: h.Interval, Timeout: h.Timeout, StartPeriod: h.StartPeriod, Retries: h.Retries}
		})
	case *instructions.WorkdirCommand:
		dir := cmd.Path
		if !path.IsAbs(dir) {
			dir = path.Join("/", cfg.WorkingDir, dir)
		}
		cfg.WorkingDir = dir
		key := hashKey(sr.key, text, dir, cfg.User)
		return r.layerStep(ctx, sr, key, func() (io.Reader, error) {
			view, done, err := r.stageView(ctx, sr)
			if err != nil {
				return nil, err
			}
			defer done()
			uid, gid := -1, -1
			if cfg.User != "" {
				u, err := runtime.ResolveUser(view, cfg.User, nil)
				if err != nil {
					return nil, r.stepError(c, err)
				}
				uid, gid = u.UID, u.GID
			}
			rd, err := workdirLayer(view, dir, uid, gid)
			if err != nil {
				return nil, r.stepError(c, err)
			}
			return rd, nil
		})
	case *instructions.RunCommand:
		return r.runStep(ctx, sr, args, cmd, text)
	case *instructions.CopyCommand:
		return r.copyStep(ctx, stage, sr, cmd.SourcesAndDest, cmd.From, cmd.Chown, cmd.Chmod, false, text)
	case *instructions.AddCommand:
		return r.copyStep(ctx, stage, sr, cmd.SourcesAndDest, "", cmd.Chown, cmd.Chmod, true, text)
	}
	return r.stepError(c, fmt.Errorf("instruction %s is not supported", c.Name()))
}

func (r *run) stepError(c instructions.Command, err error) error {
	if loc := c.Location(); len(loc) > 0 {
		return fmt.Errorf("%w: %s: line %d: %s: %v", ErrDockerfile, r.file, loc[0].Start.Line, strings.ToUpper(c.Name()), err)
	}
	return fmt.Errorf("%w: %s: %s: %v", ErrDockerfile, r.file, strings.ToUpper(c.Name()), err)
}

// withShell wraps a shell-form command line in the stage's SHELL.
func (r *run) withShell(sr *stageResult, cmdline []string, prepend bool) []string {
	if !prepend {
		return cmdline
	}
	sh := sr.cfg.Config.Shell
	if len(sh) == 0 {
		sh = []string{"/bin/sh", "-c"}
	}
	return append(append([]string{}, sh...), strings.Join(cmdline, " "))
}

// layerStep reuses the cached result of key, or makes the layer, commits
// it and records it in the cache.
func (r *run) layerStep(ctx context.Context, sr *stageResult, key string, layer func() (io.Reader, error)) error {
	if !r.opts.NoCache {
		if id, ok := r.cache[key]; ok {
			if img, err := r.b.Images.Get(ctx, id); err == nil {
				r.printf("#%d CACHED\n", r.step)
				sr.img, sr.cfg, sr.key, sr.dirty = img, img.Config, key, false
				return nil
			}
		}
	}
	rd, err := layer()
	if err != nil {
		return err
	}
	img, err := r.commit(ctx, sr, rd, "")
	if c, ok := rd.(io.Closer); ok {
		c.Close()
	}
	if err != nil {
		return err
	}
	sr.img, sr.cfg, sr.key, sr.dirty = img, img.Config, key, false
	return r.storeCache(key, img.ID)
}

// runStep runs a RUN instruction in a container over the image so far.
func (r *run) runStep(ctx context.Context, sr *stageResult, args map[string]string, cmd *instructions.RunCommand, text string) error {
	if sr.img == nil {
		return r.stepError(cmd, fmt.Errorf("RUN needs a base image with a shell, not scratch"))
	}
	argv := r.withShell(sr, cmd.CmdLine, cmd.PrependShell)
	if len(cmd.Files) > 0 {
		// RUN <<EOF ... EOF: the heredoc is the script.
		if len(cmd.CmdLine) != 1 || !strings.HasPrefix(strings.TrimSpace(cmd.CmdLine[0]), "<<") {
			return r.stepError(cmd, fmt.Errorf("only a heredoc as the whole command is supported"))
		}
		sh := sr.cfg.Config.Shell
		if len(sh) == 0 {
			sh = []string{"/bin/sh", "-c"}
		}
		argv = append(append([]string{}, sh...), cmd.Files[0].Data)
	}
	network := r.opts.Network
	if n := instructions.GetNetwork(cmd); n != "" && n != instructions.NetworkDefault {
		network = n
	}
	env := stageEnv(sr, args)
	var mounts []runtime.Mount
	var mountKeys []string
	for _, m := range instructions.GetMounts(cmd) {
		if m.Type != instructions.MountTypeCache {
			return r.stepError(cmd, fmt.Errorf("RUN --mount=type=%s is not supported (cache only)", m.Type))
		}
		id := m.CacheID
		if id == "" {
			id = m.Target
		}
		dir := filepath.Join(r.b.CacheDir, "mounts", hashKey(id)[:16])
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		mounts = append(mounts, runtime.Mount{Type: "bind", Source: dir, Target: m.Target, ReadOnly: m.ReadOnly})
		mountKeys = append(mountKeys, id+":"+m.Target)
	}
	key := hashKey(sr.key, text, strings.Join(argv, "\x00"), strings.Join(env, "\x00"), sr.cfg.Config.WorkingDir, sr.cfg.Config.User, network, strings.Join(mountKeys, ","))
	return r.layerStep(ctx, sr, key, func() (io.Reader, error) {
		return r.runContainer(ctx, sr, argv, env, network, mounts)
	})
}

// runContainer runs argv over the stage's image and returns its changes
// as a layer.
func (r *run) runContainer(ctx context.Context, sr *stageResult, argv, env []string, network string, mounts []runtime.Mount) (io.Reader, error) {
	layers, err := r.b.Images.Snapshots(ctx, sr.img)
	if err != nil {
		return nil, err
	}
	id := randomID()
	spec := runtime.Spec{ID: id, Name: "build-" + id[:12], Layers: layers, Args: argv, Env: env,
		Cwd: sr.cfg.Config.WorkingDir, User: sr.cfg.Config.User, Hostname: "berth-build", Mounts: mounts,
		Labels: map[string]string{"berth.build": "true"}}
	switch network {
	case "none":
		spec.Network = runtime.NetworkNone
	default:
		spec.Network = runtime.NetworkHost
	}
	info, err := r.b.Runtime.Create(ctx, spec)
	if err != nil {
		return nil, err
	}
	defer r.b.Runtime.Remove(context.WithoutCancel(ctx), id, true)
	out := &linePrefixer{w: r.opts.Output, prefix: fmt.Sprintf("#%d ", r.step)}
	code, err := r.b.Runtime.Run(ctx, id, runtime.Stdio{Out: out, Err: out})
	out.flush()
	if err != nil {
		return nil, err
	}
	if code != 0 {
		return nil, fmt.Errorf("%s: RUN %s: exit code %d", r.file, strings.Join(argv, " "), code)
	}
	// Mount points the runtime made for its own files are not the step's.
	// The step wrote the upper directory: its links are not followed.
	upper, err := os.OpenRoot(info.UpperDir)
	if err != nil {
		return nil, err
	}
	for _, f := range []string{"etc/hosts", "etc/hostname", "etc/resolv.conf"} {
		if fi, err := upper.Lstat(f); err == nil && fi.Mode().IsRegular() && fi.Size() == 0 {
			upper.Remove(f)
		}
	}
	upper.Close()
	rc, err := archive.TarWithOptions(info.UpperDir, &archive.TarOptions{WhiteoutFormat: archive.OverlayWhiteoutFormat})
	if err != nil {
		return nil, err
	}
	// Read the whole layer before the container (and its upper dir) goes.
	var buf bytes.Buffer
	_, err = io.Copy(&buf, rc)
	rc.Close()
	return &buf, err
}

// linePrefixer writes a step's output line by line with its step number.
type linePrefixer struct {
	mu     sync.Mutex
	w      io.Writer
	prefix string
	buf    []byte
}

func (l *linePrefixer) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, b...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			break
		}
		fmt.Fprintf(l.w, "%s%s\n", l.prefix, l.buf[:i])
		l.buf = l.buf[i+1:]
	}
	return len(b), nil
}

func (l *linePrefixer) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.buf) > 0 {
		fmt.Fprintf(l.w, "%s%s\n", l.prefix, l.buf)
		l.buf = nil
	}
}

// loadCache reads the step cache: step key -> image ID.
func (r *run) loadCache() error {
	r.cache = map[string]string{}
	b, err := os.ReadFile(filepath.Join(r.b.CacheDir, "index.json"))
	if err != nil {
		return nil
	}
	return json.Unmarshal(b, &r.cache)
}

func (r *run) storeCache(key, id string) error {
	if err := os.MkdirAll(r.b.CacheDir, 0o755); err != nil {
		return err
	}
	unlock, err := statefile.Lock(filepath.Join(r.b.CacheDir, ".lock"))
	if err != nil {
		return err
	}
	defer unlock()
	cur := map[string]string{}
	if b, err := os.ReadFile(filepath.Join(r.b.CacheDir, "index.json")); err == nil {
		json.Unmarshal(b, &cur)
	}
	cur[key] = id
	r.cache[key] = id
	return statefile.WriteJSON(filepath.Join(r.b.CacheDir, "index.json"), cur, statefile.Options{Perm: 0o644})
}
