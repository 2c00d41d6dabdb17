// Package build builds images from Dockerfiles on berth's own runtime.
//
// Dockerfiles are parsed by BuildKit's parser and instructions packages;
// each stage is executed step by step: RUN in a container over the image
// built so far (its overlay upper directory becomes the step's layer),
// COPY and ADD as layers written straight from the build context, and the
// metadata instructions as changes to the image configuration.
//
// Paths are resolved as Docker resolves them, each inside its own root:
// COPY's sources in the context (or the stage or image of --from), and
// COPY's, ADD's and WORKDIR's destinations in the stage's file system,
// mounted read-only for the step, symlinks followed as if that root were
// /. Nothing an image, a stage or a context holds can lead the builder to
// the host's files.
//
// A step whose parent, instruction, arguments and input files are
// unchanged reuses its earlier result from a cache under
// <root>/build-cache.
package build

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/berthdev/berth/runtime"
	"github.com/berthdev/berth/runtime/image"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
)

// ErrDockerfile marks a problem in the Dockerfile itself.
var ErrDockerfile = errors.New("dockerfile error")

// Builder builds images into a store, running RUN steps on a runtime.
type Builder struct {
	Images   *image.Store
	Runtime  *runtime.Runtime
	CacheDir string // <root>/build-cache
	// Pull fetches a base image that is not in the store.
	Pull func(ctx context.Context, ref string) (*image.Image, error)
}

// Options describe one build, as compose's build: section does.
type Options struct {
	Context            string
	Dockerfile         string // path, relative to Context; "Dockerfile" when empty
	Inline             string // dockerfile_inline: the Dockerfile's text
	Args               map[string]string
	Target             string
	Labels             map[string]string
	Tags               []string // names of the result; the first is its name
	NoCache            bool
	Pull               bool
	Network            string // default network of RUN steps: host (default) or none
	AdditionalContexts map[string]string
	Output             io.Writer
}

// Build builds the Dockerfile's target stage (the last one by default) and
// returns the image, named by the first tag.
func (b *Builder) Build(ctx context.Context, opts Options) (*image.Image, error) {
	if opts.Output == nil {
		opts.Output = io.Discard
	}
	ctxDir, err := filepath.Abs(opts.Context)
	if err != nil {
		return nil, err
	}
	opts.Context = ctxDir
	name, text, err := readDockerfile(opts)
	if err != nil {
		return nil, err
	}
	res, err := parser.Parse(bytes.NewReader(text))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrDockerfile, name, err)
	}
	stages, metaArgs, err := instructions.Parse(res.AST, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrDockerfile, name, lineOf(err))
	}
	if len(stages) == 0 {
		return nil, fmt.Errorf("%w: %s: no FROM instruction", ErrDockerfile, name)
	}
	ignore, err := loadIgnore(ctxDir, name)
	if err != nil {
		return nil, err
	}
	// ARGs before the first FROM: usable in FROM lines.
	global := map[string]string{}
	for _, a := range metaArgs {
		for _, kv := range a.Args {
			if v, ok := opts.Args[kv.Key]; ok {
				global[kv.Key] = v
			} else if kv.Value != nil {
				global[kv.Key] = *kv.Value
			}
		}
	}
	target := len(stages) - 1
	if opts.Target != "" {
		target = -1
		for i, s := range stages {
			if strings.EqualFold(s.Name, opts.Target) {
				target = i
			}
		}
		if target < 0 {
			return nil, fmt.Errorf("%w: %s: no stage named %q", ErrDockerfile, name, opts.Target)
		}
	}
	r := &run{b: b, opts: opts, ignore: ignore, global: global, stages: stages, results: map[int]*stageResult{}, file: name}
	if err := r.loadCache(); err != nil {
		return nil, err
	}
	needed := r.needed(target)
	for i := 0; i <= target; i++ {
		if !needed[i] {
			continue
		}
		sr, err := r.buildStage(ctx, i)
		if err != nil {
			return nil, err
		}
		r.results[i] = sr
	}
	final := r.results[target]
	return r.finish(ctx, final)
}

func readDockerfile(opts Options) (string, []byte, error) {
	if opts.Inline != "" {
		return "dockerfile_inline", []byte(opts.Inline), nil
	}
	df := opts.Dockerfile
	if df == "" {
		df = "Dockerfile"
	}
	if !filepath.IsAbs(df) {
		df = filepath.Join(opts.Context, df)
	}
	b, err := os.ReadFile(df)
	if err != nil {
		return "", nil, fmt.Errorf("reading the Dockerfile: %w", err)
	}
	return df, b, nil
}

// lineOf puts the line number BuildKit attached to an error in front.
func lineOf(err error) string {
	var loc *parser.LocationError
	if errors.As(err, &loc) && len(loc.Locations) > 0 && len(loc.Locations[0]) > 0 {
		return fmt.Sprintf("line %d: %v", loc.Locations[0][0].Start.Line, err)
	}
	return err.Error()
}

// run is the state of one build.
type run struct {
	b       *Builder
	opts    Options
	ignore  *ignoreRules
	global  map[string]string
	stages  []instructions.Stage
	results map[int]*stageResult
	cache   map[string]string
	file    string
	step    int
	// cmdSetInStage: CMD was given in the current stage, so a later
	// ENTRYPOINT keeps it (an inherited CMD is reset, as Docker does).
	cmdSetInStage bool
}

// stageResult is a built stage: an image in the store and the config on
// top of it not yet committed.
type stageResult struct {
	img   *image.Image
	cfg   v1.ConfigFile
	key   string
	dirty bool
}

// stageIndex resolves a stage reference: a name or a number.
func (r *run) stageIndex(ref string, before int) int {
	for i := 0; i < before; i++ {
		if strings.EqualFold(r.stages[i].Name, ref) {
			return i
		}
	}
	if n, err := strconv.Atoi(ref); err == nil && n >= 0 && n < before {
		return n
	}
	return -1
}

// needed marks the stages the target depends on, so a build never runs a
// stage it does not need.
func (r *run) needed(target int) map[int]bool {
	out := map[int]bool{}
	var visit func(int)
	visit = func(i int) {
		if out[i] {
			return
		}
		out[i] = true
		s := r.stages[i]
		if j := r.stageIndex(r.expandGlobal(s.BaseName), i); j >= 0 {
			visit(j)
		}
		for _, c := range s.Commands {
			if cp, ok := c.(*instructions.CopyCommand); ok && cp.From != "" {
				if j := r.stageIndex(cp.From, i); j >= 0 {
					visit(j)
				}
			}
		}
	}
	visit(target)
	return out
}

func (r *run) expandGlobal(word string) string {
	env := make([]string, 0, len(r.global))
	for k, v := range r.global {
		env = append(env, k+"="+v)
	}
	out, _, err := shell.NewLex('\\').ProcessWord(word, shell.EnvsFromSlice(env))
	if err != nil {
		return word
	}
	return out
}

func (r *run) printf(format string, args ...any) { fmt.Fprintf(r.opts.Output, format, args...) }

// buildStage runs one stage's instructions.
func (r *run) buildStage(ctx context.Context, i int) (*stageResult, error) {
	st := r.stages[i]
	base := r.expandGlobal(st.BaseName)
	sr := &stageResult{}
	r.step++
	r.printf("#%d [stage-%d] FROM %s\n", r.step, i, base)
	switch j := r.stageIndex(base, i); {
	case j >= 0:
		prev := r.results[j]
		if prev.dirty {
			img, err := r.commit(ctx, prev, nil, "")
			if err != nil {
				return nil, err
			}
			prev.img, prev.dirty = img, false
		}
		sr.img, sr.cfg, sr.key = prev.img, prev.cfg, prev.key
	case strings.EqualFold(base, "scratch"):
		sr.cfg = v1.ConfigFile{OS: "linux", Architecture: image.DefaultPlatform().Architecture}
		sr.key = hashKey("scratch")
	default:
		img, err := r.baseImage(ctx, base)
		if err != nil {
			return nil, fmt.Errorf("%s: FROM %s: %w", r.file, base, err)
		}
		sr.img, sr.cfg, sr.key = img, img.Config, hashKey("from", img.ID)
	}
	sr.cfg.Config.OnBuild = nil
	r.cmdSetInStage = false
	cmds := st.Commands
	if sr.img != nil && len(sr.img.Config.Config.OnBuild) > 0 {
		triggers, err := parseTriggers(sr.img.Config.Config.OnBuild)
		if err != nil {
			return nil, fmt.Errorf("%s: ONBUILD triggers of %s: %w", r.file, base, err)
		}
		cmds = append(triggers, cmds...)
	}
	args := map[string]string{}
	for k, v := range proxyArgs(r.opts.Args) {
		args[k] = v
	}
	for n, c := range cmds {
		r.step++
		if err := r.execute(ctx, i, n, len(cmds), sr, args, c); err != nil {
			return nil, err
		}
	}
	return sr, nil
}

func (r *run) baseImage(ctx context.Context, ref string) (*image.Image, error) {
	if p, ok := r.opts.AdditionalContexts[ref]; ok {
		return nil, fmt.Errorf("additional context %q (%s) is a directory, not an image", ref, p)
	}
	if !r.opts.Pull {
		if img, err := r.b.Images.Get(ctx, ref); err == nil {
			return img, nil
		} else if !errors.Is(err, image.ErrNotFound) {
			return nil, err
		}
	}
	if r.b.Pull == nil {
		return nil, fmt.Errorf("%w: %s", image.ErrNotFound, ref)
	}
	r.printf("#%d pulling %s\n", r.step, ref)
	return r.b.Pull(ctx, ref)
}

// proxyArgs are the build args Docker passes without an ARG line.
func proxyArgs(in map[string]string) map[string]string {
	out := map[string]string{}
	for _, k := range []string{"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY", "ftp_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"} {
		if v, ok := in[k]; ok {
			out[k] = v
		}
	}
	return out
}

func parseTriggers(triggers []string) ([]instructions.Command, error) {
	var out []instructions.Command
	for _, t := range triggers {
		res, err := parser.Parse(strings.NewReader(t))
		if err != nil {
			return nil, err
		}
		for _, n := range res.AST.Children {
			c, err := instructions.ParseInstruction(n)
			if err != nil {
				return nil, err
			}
			if cmd, ok := c.(instructions.Command); ok {
				out = append(out, cmd)
			}
		}
	}
	return out, nil
}

// finish commits pending config, names the result with every tag, and
// adds the build's labels.
func (r *run) finish(ctx context.Context, sr *stageResult) (*image.Image, error) {
	if len(r.opts.Labels) > 0 {
		if sr.cfg.Config.Labels == nil {
			sr.cfg.Config.Labels = map[string]string{}
		}
		keys := slices.Sorted(maps.Keys(r.opts.Labels))
		for _, k := range keys {
			sr.cfg.Config.Labels[k] = r.opts.Labels[k]
		}
		sr.dirty = true
	}
	name := ""
	if len(r.opts.Tags) > 0 {
		name = r.opts.Tags[0]
	}
	var img *image.Image
	var err error
	switch {
	case sr.dirty || sr.img == nil:
		// The last metadata-only steps are cached too, so a rebuild with
		// nothing changed gives the same image ID.
		key := hashKey(sr.key, "final", fmt.Sprint(r.opts.Labels))
		if id, ok := r.cache[key]; ok && !r.opts.NoCache {
			if cached, gerr := r.b.Images.Get(ctx, id); gerr == nil {
				img = cached
				if name != "" {
					if err = r.b.Images.Tag(ctx, cached.ID, name); err == nil {
						img, err = r.b.Images.Get(ctx, name)
					}
				}
				break
			}
		}
		if img, err = r.commit(ctx, sr, nil, name); err == nil {
			err = r.storeCache(key, img.ID)
		}
	case name != "":
		err = r.b.Images.Tag(ctx, sr.img.ID, name)
		img = sr.img
		if err == nil {
			img, err = r.b.Images.Get(ctx, name)
		}
	default:
		img = sr.img
	}
	if err != nil {
		return nil, err
	}
	for _, t := range r.opts.Tags[min(1, len(r.opts.Tags)):] {
		if err := r.b.Images.Tag(ctx, img.ID, t); err != nil {
			return nil, err
		}
	}
	r.printf("#%d naming %s (%s)\n", r.step+1, strings.Join(r.opts.Tags, ", "), img.ID[:19])
	return img, nil
}

// commit writes the stage's image with an optional new layer.
func (r *run) commit(ctx context.Context, sr *stageResult, layer io.Reader, name string) (*image.Image, error) {
	cfg := sr.cfg
	cfg.Created = v1.Time{Time: time.Now().UTC()}
	return r.b.Images.Commit(ctx, image.CommitOptions{Parent: sr.img, Layer: layer, Config: cfg, Name: name, History: v1.History{CreatedBy: "berth build"}})
}

func hashKey(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

func randomID() string {
	b := make([]byte, 32)
	rand.Read(b)
	return hex.EncodeToString(b)
}
