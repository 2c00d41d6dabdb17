package main

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/berthdev/berth/project"
	"github.com/spf13/cobra"
)

func init() { register(newLsCommand) }

func newLsCommand(g *globalOptions) *cobra.Command {
	var all, quiet bool
	var format string
	cmd := &cobra.Command{
		Use:   "ls",
		Short: "List running projects",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(format, "table", "json"); err != nil {
				return err
			}
			e, err := openEngine(g)
			if err != nil {
				return err
			}
			rows, err := e.ListProjects(cmd.Context(), all)
			if err != nil {
				return err
			}
			return printProjects(cmd.OutOrStdout(), rows, format, quiet)
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "show stopped projects too")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "only names")
	cmd.Flags().StringVar(&format, "format", "table", "table or json")
	return cmd
}

func printProjects(out io.Writer, rows []project.ProjectSummary, format string, quiet bool) error {
	switch {
	case quiet:
		for _, r := range rows {
			fmt.Fprintln(out, r.Name)
		}
		return nil
	case format == "json":
		if rows == nil {
			rows = []project.ProjectSummary{}
		}
		return writeJSON(out, rows)
	}
	tw := tabwriter.NewWriter(out, 0, 4, 3, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSTATUS\tCONFIG FILES")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", r.Name, r.Status, r.ConfigFiles)
	}
	return tw.Flush()
}
