package main

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/berthdev/berth/project"
	"github.com/spf13/cobra"
)

func init() { register(newTopCommand) }

func newTopCommand(g *globalOptions) *cobra.Command {
	return projectCommand(g, "top [SERVICE...]", "Show the running processes", cobra.ArbitraryArgs,
		func(cmd *cobra.Command, p *project.Project, e *project.Engine, args []string) error {
			cs, err := e.Top(cmd.Context(), p, args)
			if err != nil {
				return err
			}
			return printTop(cmd.OutOrStdout(), cs)
		})
}

// printTop prints each container's name, then a table of its processes.
func printTop(out io.Writer, cs []project.ContainerProcesses) error {
	for _, c := range cs {
		fmt.Fprintln(out, c.Name)
		tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "UID\tPID\tPPID\tCMD")
		for _, pr := range c.Processes {
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", pr.UID, pr.PID, pr.PPID, pr.Cmd)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		fmt.Fprintln(out)
	}
	return nil
}
