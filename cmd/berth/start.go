package main

import (
	"github.com/berthdev/berth/project"
	"github.com/spf13/cobra"
)

func init() { register(newStartCommand) }

func newStartCommand(g *globalOptions) *cobra.Command {
	return projectCommand(g, "start [SERVICE...]", "Start existing containers", cobra.ArbitraryArgs,
		func(cmd *cobra.Command, p *project.Project, e *project.Engine, args []string) error {
			ev, err := events(cmd, g)
			if err != nil {
				return err
			}
			return e.Start(cmd.Context(), p, project.StartOptions{Services: args, Events: ev})
		})
}
