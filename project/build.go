package project

import (
	"context"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"strings"

	"github.com/berthdev/berth/runtime/build"
	"github.com/berthdev/berth/runtime/image"
	"github.com/compose-spec/compose-go/v2/types"
)

// BuildOptions are `berth build`'s, for the services of a project.
type BuildOptions struct {
	// Services are the services to build; every service with a build:
	// section when empty.
	Services []string
	// NoCache and Pull add to each service's own no_cache and pull.
	NoCache bool
	Pull    bool
	// Args (--build-arg) override the services' build args.
	Args map[string]string
	// Output receives the builder's steps, each line prefixed with the
	// service's name; nil discards them.
	Output io.Writer
}

// BuiltImage is the image a build made for a service.
type BuiltImage struct {
	Service string
	ID      string
}

// Build builds the images of the services that have a build: section, one
// after the other, and names each as compose does (imageName). It returns
// the images built before any failure.
func (e *Engine) Build(ctx context.Context, p *Project, opts BuildOptions) ([]BuiltImage, error) {
	names := opts.Services
	if len(names) == 0 {
		names = p.ServiceNames()
	}
	for _, n := range names {
		if _, ok := p.Services[n]; !ok {
			return nil, fmt.Errorf("%w: %q (the project has %v)", ErrNoService, n, p.ServiceNames())
		}
	}
	var out []BuiltImage
	for _, n := range names {
		s := p.Services[n]
		if s.Build == nil {
			continue
		}
		bo := serviceBuildOptions(s, imageName(p, s), prefixLines(n, opts.Output))
		bo.NoCache = bo.NoCache || opts.NoCache
		bo.Pull = bo.Pull || opts.Pull
		maps.Copy(bo.Args, opts.Args)
		img, err := e.builder().Build(ctx, bo)
		if err != nil {
			return out, fmt.Errorf("service %q: %w", n, err)
		}
		out = append(out, BuiltImage{Service: n, ID: img.ID})
	}
	return out, nil
}

// ImageBuildOptions are those of `berth build -t`: a context directory and
// a Dockerfile, without a compose file.
type ImageBuildOptions struct {
	Context    string
	Dockerfile string // relative to Context; "Dockerfile" when empty
	Target     string
	Tag        string
	Args       map[string]string
	NoCache    bool
	Pull       bool
	// Output receives the builder's steps; nil discards them.
	Output io.Writer
}

// BuildImage builds a context directory into an image named opts.Tag and
// returns its ID.
func (e *Engine) BuildImage(ctx context.Context, opts ImageBuildOptions) (string, error) {
	img, err := e.builder().Build(ctx, build.Options{
		Context: opts.Context, Dockerfile: opts.Dockerfile, Target: opts.Target, Tags: []string{opts.Tag},
		Args: opts.Args, NoCache: opts.NoCache, Pull: opts.Pull, Output: opts.Output,
	})
	if err != nil {
		return "", err
	}
	return img.ID, nil
}

// builder builds on this engine's runtime into its image store, pulling
// base images through the registry configuration, with the step cache
// under <root>/build-cache.
func (e *Engine) builder() *build.Builder {
	return &build.Builder{
		Images: e.images, Runtime: e.runtime, CacheDir: filepath.Join(e.runtime.Root(), "build-cache"),
		Pull: func(ctx context.Context, ref string) (*image.Image, error) {
			return e.images.Pull(ctx, ref, image.PullOptions{Config: e.registryConfig})
		},
	}
}

// buildService builds a service's image on the way of a verb (up, run,
// watch) and names it ref; the builder's output goes to BuildOutput.
func (e *Engine) buildService(ctx context.Context, s types.ServiceConfig, ref string) (*image.Image, error) {
	return e.builder().Build(ctx, serviceBuildOptions(s, ref, prefixLines(s.Name, e.BuildOutput)))
}

// serviceBuildOptions maps a service's build: section to the builder's.
func serviceBuildOptions(s types.ServiceConfig, ref string, out io.Writer) build.Options {
	b := s.Build
	o := build.Options{Context: b.Context, Dockerfile: b.Dockerfile, Inline: b.DockerfileInline, Target: b.Target,
		Labels: map[string]string(b.Labels), Tags: append([]string{ref}, b.Tags...), NoCache: b.NoCache, Pull: b.Pull,
		Network: b.Network, Args: map[string]string{}, AdditionalContexts: map[string]string{}, Output: out}
	for k, v := range b.Args {
		if v != nil {
			o.Args[k] = *v
		}
	}
	maps.Copy(o.AdditionalContexts, b.AdditionalContexts)
	return o
}

// prefixLines prefixes what is written to w with the service's name, so
// that the output of several builds reads apart; nil stays nil.
func prefixLines(service string, w io.Writer) io.Writer {
	if w == nil {
		return nil
	}
	return prefixWriter{prefix: service + " ", w: w}
}

type prefixWriter struct {
	prefix string
	w      io.Writer
}

func (p prefixWriter) Write(b []byte) (int, error) {
	for _, l := range strings.SplitAfter(string(b), "\n") {
		if l != "" {
			// A terminal that went away must not fail the build.
			io.WriteString(p.w, p.prefix+l)
		}
	}
	return len(b), nil
}
