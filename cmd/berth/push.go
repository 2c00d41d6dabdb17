package main

import (
	"github.com/berthdev/berth/project"
	"github.com/spf13/cobra"
)

func init() { register(newPushCommand) }

func newPushCommand(g *globalOptions) *cobra.Command {
	var ignore bool
	cmd := projectCommand(g, "push [SERVICE...]", "Push service images", cobra.ArbitraryArgs,
		func(cmd *cobra.Command, p *project.Project, e *project.Engine, args []string) error {
			ev, err := events(cmd, g)
			if err != nil {
				return err
			}
			return e.Push(cmd.Context(), p, args, ignore, ev)
		})
	cmd.Flags().BoolVar(&ignore, "ignore-push-failures", false, "push what it can")
	return cmd
}
