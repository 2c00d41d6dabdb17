package main

import (
	"github.com/berthdev/berth/project"
	"github.com/spf13/cobra"
)

func init() { register(newCpCommand) }

// newCpCommand copies between a running service container and the host:
// SERVICE:SRC DEST or SRC SERVICE:DEST, with "-" for a tar stream.
func newCpCommand(g *globalOptions) *cobra.Command {
	var index int
	cmd := projectCommand(g, "cp [OPTIONS] SERVICE:SRC_PATH DEST_PATH|-\n  berth cp [OPTIONS] SRC_PATH|- SERVICE:DEST_PATH", "Copy files between a service container and the host", cobra.ExactArgs(2),
		func(cmd *cobra.Command, p *project.Project, e *project.Engine, args []string) error {
			return e.Copy(cmd.Context(), p, project.CopyOptions{
				Source: args[0], Destination: args[1], Index: index,
				Stdin: cmd.InOrStdin(), Stdout: cmd.OutOrStdout(),
			})
		})
	cmd.Flags().IntVar(&index, "index", 0, "the replica, when a service has several")
	return cmd
}
