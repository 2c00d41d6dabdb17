package main

import (
	"github.com/berthdev/berth/project"
	"github.com/spf13/cobra"
)

func init() {
	register(newPauseCommand)
	register(newUnpauseCommand)
}

func newPauseCommand(g *globalOptions) *cobra.Command {
	return projectCommand(g, "pause [SERVICE...]", "Pause containers", cobra.ArbitraryArgs,
		func(cmd *cobra.Command, p *project.Project, e *project.Engine, args []string) error {
			ev, err := events(cmd, g)
			if err != nil {
				return err
			}
			return e.Pause(cmd.Context(), p, args, false, ev)
		})
}

func newUnpauseCommand(g *globalOptions) *cobra.Command {
	return projectCommand(g, "unpause [SERVICE...]", "Unpause containers", cobra.ArbitraryArgs,
		func(cmd *cobra.Command, p *project.Project, e *project.Engine, args []string) error {
			ev, err := events(cmd, g)
			if err != nil {
				return err
			}
			return e.Pause(cmd.Context(), p, args, true, ev)
		})
}
