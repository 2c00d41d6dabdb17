package main

import (
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/berthdev/berth/project"
	"github.com/spf13/cobra"
)

func init() { register(newPsCommand) }

// psStates are the states ps --status filters by, as docker compose's.
var psStates = []string{"created", "running", "paused", "restarting", "exited", "dead"}

func newPsCommand(g *globalOptions) *cobra.Command {
	var opts project.PsOptions
	var quiet, services bool
	var format string
	cmd := projectCommand(g, "ps [SERVICE...]", "List containers", cobra.ArbitraryArgs,
		func(cmd *cobra.Command, p *project.Project, e *project.Engine, args []string) error {
			out := cmd.OutOrStdout()
			if err := checkFormat(format, "table", "json"); err != nil {
				return err
			}
			for _, s := range opts.Status {
				if !slices.Contains(psStates, s) {
					return usageError{fmt.Sprintf("--status %q: want one of %v", s, psStates)}
				}
			}
			if services {
				names := p.ServiceNames()
				slices.Sort(names)
				for _, n := range names {
					fmt.Fprintln(out, n)
				}
				return nil
			}
			opts.Services = args
			rows, err := e.Ps(cmd.Context(), p, opts)
			if err != nil {
				return err
			}
			return printPs(out, rows, format, quiet, time.Now())
		})
	f := cmd.Flags()
	f.BoolVarP(&opts.All, "all", "a", false, "show all containers, stopped ones too")
	f.BoolVarP(&quiet, "quiet", "q", false, "only IDs")
	f.BoolVar(&services, "services", false, "only service names")
	f.StringVar(&format, "format", "table", "table or json")
	f.StringArrayVar(&opts.Status, "status", nil, "filter by status: created, running, paused, restarting, exited, dead")
	return cmd
}

// printPs prints ps's rows as a table (their age as of now), as JSON, or
// their IDs alone.
func printPs(out io.Writer, rows []project.Summary, format string, quiet bool, now time.Time) error {
	if quiet {
		for _, r := range rows {
			fmt.Fprintln(out, r.ID)
		}
		return nil
	}
	if format == "json" {
		if rows == nil {
			rows = []project.Summary{}
		}
		return writeJSON(out, rows)
	}
	tw := tabwriter.NewWriter(out, 0, 4, 3, ' ', 0)
	fmt.Fprintln(tw, "NAME\tIMAGE\tCOMMAND\tSERVICE\tCREATED\tSTATUS\tPORTS")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Name, r.Image, r.Command, r.Service, humanAge(time.Unix(r.Created, 0), now), r.Status, r.Ports)
	}
	return tw.Flush()
}
