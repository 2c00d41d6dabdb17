package main

import (
	"github.com/berthdev/berth/project"
	"github.com/spf13/cobra"
)

func init() { register(newRestartCommand) }

func newRestartCommand(g *globalOptions) *cobra.Command {
	var timeout timeoutFlag
	var noDeps bool
	cmd := projectCommand(g, "restart [SERVICE...]", "Restart containers", cobra.ArbitraryArgs,
		func(cmd *cobra.Command, p *project.Project, e *project.Engine, args []string) error {
			ev, err := events(cmd, g)
			if err != nil {
				return err
			}
			return e.Restart(cmd.Context(), p, project.RestartOptions{Services: args, Timeout: timeout.duration(), NoDeps: noDeps, Events: ev})
		})
	addTimeout(cmd, &timeout)
	cmd.Flags().BoolVar(&noDeps, "no-deps", false, "don't restart the services that depend on these with restart: true")
	return cmd
}
