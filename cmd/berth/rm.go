package main

import (
	"github.com/berthdev/berth/project"
	"github.com/spf13/cobra"
)

func init() { register(newRmCommand) }

func newRmCommand(g *globalOptions) *cobra.Command {
	var opts project.RemoveOptions
	cmd := projectCommand(g, "rm [SERVICE...]", "Remove stopped containers", cobra.ArbitraryArgs,
		func(cmd *cobra.Command, p *project.Project, e *project.Engine, args []string) error {
			ev, err := events(cmd, g)
			if err != nil {
				return err
			}
			opts.Services, opts.Events = args, ev
			return e.Remove(cmd.Context(), p, opts)
		})
	cmd.Flags().BoolVarP(&opts.Force, "force", "f", false, "don't ask to confirm (berth rm never asks)")
	cmd.Flags().BoolVarP(&opts.Stop, "stop", "s", false, "stop the containers first")
	cmd.Flags().BoolVarP(&opts.Volumes, "volumes", "v", false, "remove anonymous volumes of the containers")
	return cmd
}
