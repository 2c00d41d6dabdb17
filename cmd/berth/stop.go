package main

import (
	"github.com/berthdev/berth/project"
	"github.com/spf13/cobra"
)

func init() { register(newStopCommand) }

func newStopCommand(g *globalOptions) *cobra.Command {
	var timeout timeoutFlag
	cmd := projectCommand(g, "stop [SERVICE...]", "Stop running containers", cobra.ArbitraryArgs,
		func(cmd *cobra.Command, p *project.Project, e *project.Engine, args []string) error {
			ev, err := events(cmd, g)
			if err != nil {
				return err
			}
			return e.Stop(cmd.Context(), p, project.StopOptions{Services: args, Timeout: timeout.duration(), Events: ev})
		})
	addTimeout(cmd, &timeout)
	return cmd
}
