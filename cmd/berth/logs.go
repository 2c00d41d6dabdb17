package main

import (
	"time"

	"github.com/berthdev/berth/project"
	"github.com/spf13/cobra"
)

func init() { register(newLogsCommand) }

func newLogsCommand(g *globalOptions) *cobra.Command {
	var follow, timestamps, noColor, noPrefix bool
	var tail, since, until string
	var index int
	cmd := projectCommand(g, "logs [SERVICE...]", "Show container output", cobra.ArbitraryArgs,
		func(cmd *cobra.Command, p *project.Project, e *project.Engine, args []string) error {
			opts := project.LogsOptions{Services: args, Follow: follow, Index: index}
			var err error
			if opts.Tail, err = parseTail(tail); err != nil {
				return err
			}
			now := time.Now()
			if opts.Since, err = parseTimestamp("--since", since, now); err != nil {
				return err
			}
			if opts.Until, err = parseTimestamp("--until", until, now); err != nil {
				return err
			}
			color, err := useColor(cmd.OutOrStdout(), g.Ansi)
			if err != nil {
				return err
			}
			lp := newLogPrinter(cmd.OutOrStdout(), color && !noColor, noPrefix, timestamps)
			for _, n := range p.ServiceNames() {
				lp.Width(len(n) + 2)
			}
			opts.Line = lp.LogLine
			return e.Logs(cmd.Context(), p, opts)
		})
	f := cmd.Flags()
	f.BoolVarP(&follow, "follow", "f", false, "follow log output")
	f.StringVarP(&tail, "tail", "n", "all", "number of lines from the end of the logs")
	f.BoolVarP(&timestamps, "timestamps", "t", false, "show timestamps")
	f.StringVar(&since, "since", "", "show logs since a timestamp (RFC 3339, Unix seconds) or relative (e.g. 42m)")
	f.StringVar(&until, "until", "", "show logs before a timestamp or relative time")
	f.BoolVar(&noColor, "no-color", false, "monochrome output")
	f.BoolVar(&noPrefix, "no-log-prefix", false, "don't print a prefix")
	f.IntVar(&index, "index", 0, "the replica to show, when a service has several")
	return cmd
}
