package main

import (
	"fmt"
	"io"

	"github.com/berthdev/berth/project"
	"github.com/spf13/cobra"
)

func init() { register(newBuildCommand) }

func newBuildCommand(g *globalOptions) *cobra.Command {
	var noCache, pull, quiet bool
	var buildArgs []string
	var tag, file, target string
	cmd := &cobra.Command{
		Use:   "build [SERVICE...]\n  berth build -t NAME [-f Dockerfile] [--target T] CONTEXT",
		Short: "Build service images (or, with -t, an image from a context directory)",
		RunE: func(cmd *cobra.Command, args []string) error {
			argMap, err := parseLabels("--build-arg", buildArgs)
			if err != nil {
				return err
			}
			var out io.Writer = cmd.ErrOrStderr()
			if quiet {
				out = nil
			}
			if tag == "" {
				if file != "" || target != "" {
					return usageError{"-f and --target name the Dockerfile and stage of build -t; a service's are in its build section"}
				}
				return withProject(cmd, g, args, func(cmd *cobra.Command, p *project.Project, e *project.Engine, args []string) error {
					built, err := e.Build(cmd.Context(), p, project.BuildOptions{Services: args, NoCache: noCache, Pull: pull, Args: argMap, Output: out})
					if quiet {
						for _, b := range built {
							fmt.Fprintln(cmd.OutOrStdout(), b.ID)
						}
					}
					return err
				})
			}
			if len(args) != 1 {
				return usageError{"build -t NAME takes one CONTEXT directory"}
			}
			e, err := openEngine(g)
			if err != nil {
				return err
			}
			id, err := e.BuildImage(cmd.Context(), project.ImageBuildOptions{Context: args[0], Dockerfile: file, Target: target, Tag: tag, Args: argMap, NoCache: noCache, Pull: pull, Output: out})
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), id)
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
