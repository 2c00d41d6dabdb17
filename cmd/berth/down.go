package main

import (
	"fmt"

	"github.com/berthdev/berth/project"
	"github.com/spf13/cobra"
)

func init() { register(newDownCommand) }

func newDownCommand(g *globalOptions) *cobra.Command {
	var opts project.DownOptions
	var timeout timeoutFlag
	cmd := projectCommand(g, "down", "Stop and remove containers, networks (and with -v, volumes)", cobra.NoArgs,
		func(cmd *cobra.Command, p *project.Project, e *project.Engine, _ []string) error {
			ev, err := events(cmd, g)
			if err != nil {
				return err
			}
			if opts.RemoveImages != "" && opts.RemoveImages != "local" && opts.RemoveImages != "all" {
				return usageError{fmt.Sprintf("--rmi %q: want local or all", opts.RemoveImages)}
			}
			opts.Events, opts.Timeout = ev, timeout.duration()
			return e.Down(cmd.Context(), p, opts)
		})
	cmd.Flags().BoolVarP(&opts.Volumes, "volumes", "v", false, "remove named volumes declared in the volumes section and anonymous volumes")
	cmd.Flags().StringVar(&opts.RemoveImages, "rmi", "", `remove images used by services: "local" or "all"`)
	cmd.Flags().BoolVar(&opts.RemoveOrphans, "remove-orphans", false, "remove containers of services not in the compose file")
	addTimeout(cmd, &timeout)
	return cmd
}
