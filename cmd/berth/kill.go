package main

import (
	"fmt"

	"github.com/berthdev/berth/project"
	"github.com/spf13/cobra"
)

func init() { register(newKillCommand) }

func newKillCommand(g *globalOptions) *cobra.Command {
	var sig string
	var removeOrphans bool
	cmd := projectCommand(g, "kill [SERVICE...]", "Send a signal to containers", cobra.ArbitraryArgs,
		func(cmd *cobra.Command, p *project.Project, e *project.Engine, args []string) error {
			s, err := project.ParseSignal(sig)
			if err != nil {
				return usageError{fmt.Sprintf("--signal: %v", err)}
			}
			ev, err := events(cmd, g)
			if err != nil {
				return err
			}
			return e.Kill(cmd.Context(), p, project.KillOptions{Services: args, Signal: s, RemoveOrphans: removeOrphans, Events: ev})
		})
	cmd.Flags().StringVarP(&sig, "signal", "s", "SIGKILL", "signal to send")
	cmd.Flags().BoolVar(&removeOrphans, "remove-orphans", false, "also signal the containers of services no longer in the compose file (as docker compose, it does not remove them)")
	return cmd
}
