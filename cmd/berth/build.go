package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/berthdev/berth/project"
	"github.com/berthdev/berth/runtime"
	"github.com/berthdev/berth/runtime/build"
	"github.com/berthdev/berth/runtime/image"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/spf13/cobra"
)

func init() { register(newBuildCommand) }

func newBuilder(g *globalOptions) (*build.Builder, error) {
	if err := g.storage(); err != nil {
		return nil, err
	}
	rt, err := runtime.Open(g.Root, g.State)
	if err != nil {
		return nil, err
	}
	imgs, err := image.Open(g.Root)
	if err != nil {
		return nil, err
	}
	cfg, err := image.LoadConfig(image.ConfigPath())
	if err != nil {
		return nil, err
	}
	return &build.Builder{Images: imgs, Runtime: rt, CacheDir: filepath.Join(g.Root, "build-cache"),
		Pull: func(ctx context.Context, ref string) (*image.Image, error) {
			return imgs.Pull(ctx, ref, image.PullOptions{Config: cfg})
		}}, nil
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
	for k, v := range b.AdditionalContexts {
		o.AdditionalContexts[k] = v
	}
	return o
}

// buildFunc is the builder the project verbs use for services with a
// build: section.
func buildFunc(g *globalOptions) func(ctx context.Context, p *project.Project, s types.ServiceConfig, ref string) (*image.Image, error) {
	return func(ctx context.Context, p *project.Project, s types.ServiceConfig, ref string) (*image.Image, error) {
		b, err := newBuilder(g)
		if err != nil {
			return nil, err
		}
		var out io.Writer = io.Discard
		if g.Progress != "quiet" {
			out = prefixWriter{prefix: s.Name + " ", w: stderr}
		}
		return b.Build(ctx, serviceBuildOptions(s, ref, out))
	}
}

type prefixWriter struct {
	prefix string
	w      io.Writer
}

func (p prefixWriter) Write(b []byte) (int, error) {
	for _, l := range strings.SplitAfter(string(b), "\n") {
		if l != "" {
			io.WriteString(p.w, p.prefix+l)
		}
	}
	return len(b), nil
}

func newBuildCommand(g *globalOptions) *cobra.Command {
	var noCache, pull, quiet bool
	var buildArgs []string
	var tag, file, target string
	cmd := &cobra.Command{
		Use:   "build [SERVICE...]\n  berth build -t NAME [-f Dockerfile] [--target T] CONTEXT",
		Short: "Build service images (or, with -t, an image from a context directory)",
		RunE: func(cmd *cobra.Command, args []string) error {
			argMap := map[string]string{}
			for _, a := range buildArgs {
				k, v, _ := strings.Cut(a, "=")
				argMap[k] = v
			}
			var out io.Writer = cmd.ErrOrStderr()
			if quiet {
				out = io.Discard
			}
			if tag != "" {
				if len(args) != 1 {
					return usageError{"build -t NAME takes one CONTEXT directory"}
				}
				b, err := newBuilder(g)
				if err != nil {
					return err
				}
				img, err := b.Build(cmd.Context(), build.Options{Context: args[0], Dockerfile: file, Target: target, Tags: []string{tag}, Args: argMap, NoCache: noCache, Pull: pull, Output: out})
				if err != nil {
					return err
				}
				fmt.Fprintln(cmd.OutOrStdout(), img.ID)
				return nil
			}
			p, err := loadProject(cmd, g, args)
			if err != nil {
				return err
			}
			names := args
			if len(names) == 0 {
				names = p.ServiceNames()
			}
			b, err := newBuilder(g)
			if err != nil {
				return err
			}
			for _, n := range names {
				s, ok := p.Services[n]
				if !ok {
					return usageError{fmt.Sprintf("no service %q", n)}
				}
				if s.Build == nil {
					continue
				}
				ref := s.Image
				if ref == "" {
					ref = p.Name + "-" + s.Name
				}
				opts := serviceBuildOptions(s, ref, prefixWriter{prefix: n + " ", w: out})
				opts.NoCache = opts.NoCache || noCache
				opts.Pull = opts.Pull || pull
				for k, v := range argMap {
					opts.Args[k] = v
				}
				img, err := b.Build(cmd.Context(), opts)
				if err != nil {
					return fmt.Errorf("service %q: %w", n, err)
				}
				if quiet {
					fmt.Fprintln(cmd.OutOrStdout(), img.ID)
				}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVar(&noCache, "no-cache", false, "do not use the build cache")
	f.BoolVar(&pull, "pull", false, "always pull newer base images")
	f.BoolVarP(&quiet, "quiet", "q", false, "print only the image IDs")
	f.StringArrayVar(&buildArgs, "build-arg", nil, "set a build argument KEY=VALUE")
	f.StringVarP(&tag, "tag", "t", "", "build CONTEXT into this image name (no compose file)")
	f.StringVarP(&file, "file", "f", "", "Dockerfile, with -t")
	f.StringVar(&target, "target", "", "stage to build, with -t")
	return cmd
}

var stderr io.Writer = osStderr()
