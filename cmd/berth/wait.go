package main

import (
	"fmt"

	"github.com/berthdev/berth/project"
	"github.com/spf13/cobra"
)

func init() { register(newWaitCommand) }

func newWaitCommand(g *globalOptions) *cobra.Command {
	var downOnExit bool
	cmd := projectCommand(g, "wait SERVICE...", "Block until containers stop, and print their exit code", cobra.MinimumNArgs(1),
		func(cmd *cobra.Command, p *project.Project, e *project.Engine, args []string) error {
			code, err := e.Wait(cmd.Context(), p, project.WaitOptions{Services: args, DownOnExit: downOnExit})
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), code)
			return nil
		})
	cmd.Flags().BoolVar(&downOnExit, "down-project", false, "take the project down when the first container stops")
	return cmd
}
