package main

import (
	"time"

	"github.com/berthdev/berth/project"
	"github.com/spf13/cobra"
)

func init() { register(newWatchCommand) }

func newWatchCommand(g *globalOptions) *cobra.Command {
	var opts project.WatchOptions
	var quiet bool
	cmd := projectCommand(g, "watch [SERVICE...]", "Watch the source tree and update the services' containers as files change (develop.watch)", cobra.ArbitraryArgs,
		func(cmd *cobra.Command, p *project.Project, e *project.Engine, args []string) error {
			ev, err := events(cmd, g)
			if err != nil {
				return err
			}
			if quiet {
				e.BuildOutput = nil
			}
			opts.Services, opts.Events = args, ev
			lp := newLogPrinter(cmd.ErrOrStderr(), false, false, false)
			opts.Log = func(s string) { lp.Line("watch", time.Now(), s) }
			return e.Watch(cmd.Context(), p, opts)
		})
	f := cmd.Flags()
	f.BoolVar(&opts.NoUp, "no-up", false, "don't build and start the services before watching")
	f.BoolVar(&opts.Prune, "prune", false, "delete the layers a rebuild leaves unused")
	f.BoolVar(&quiet, "quiet", false, "hide build output")
	return cmd
}
