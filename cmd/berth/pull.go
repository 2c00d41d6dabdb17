package main

import (
	"github.com/berthdev/berth/project"
	"github.com/spf13/cobra"
)

func init() { register(newPullCommand) }

func newPullCommand(g *globalOptions) *cobra.Command {
	var opts project.PullOptions
	var quiet bool
	cmd := projectCommand(g, "pull [SERVICE...]", "Pull service images", cobra.ArbitraryArgs,
		func(cmd *cobra.Command, p *project.Project, e *project.Engine, args []string) error {
			ev, err := events(cmd, g)
			if err != nil {
				return err
			}
			opts.Services, opts.Events = args, ev
			if quiet {
				opts.Events = nil
			} else if opts.Progress, err = pullProgress(cmd.ErrOrStderr(), g); err != nil {
				return err
			}
			return e.Pull(cmd.Context(), p, opts)
		})
	cmd.Flags().BoolVar(&opts.IgnoreFailures, "ignore-pull-failures", false, "pull what it can and ignore images that fail")
	cmd.Flags().BoolVar(&opts.IncludeDeps, "include-deps", false, "also pull the services they depend on")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "no progress output")
	return cmd
}
