package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/berthdev/berth/project"
	"github.com/spf13/cobra"
)

func init() { register(newEventsCommand) }

// newEventsCommand streams the events of the project's containers as the
// runtime records them, in docker compose's formats.
func newEventsCommand(g *globalOptions) *cobra.Command {
	var asJSON bool
	var since, until string
	cmd := projectCommand(g, "events [SERVICE...]", "Receive real time events from containers", cobra.ArbitraryArgs,
		func(cmd *cobra.Command, p *project.Project, e *project.Engine, args []string) error {
			opts := project.EventsOptions{Services: args}
			var err error
			now := time.Now()
			if opts.Since, err = parseTimestamp("--since", since, now); err != nil {
				return err
			}
			if opts.Until, err = parseTimestamp("--until", until, now); err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			opts.Consumer = func(ev project.Event) error { return printEvent(out, ev, asJSON) }
			return e.Events(cmd.Context(), p, opts)
		})
	cmd.Flags().BoolVar(&asJSON, "json", false, "output events as a stream of json objects")
	cmd.Flags().StringVar(&since, "since", "", "show the events kept since this time (RFC 3339, Unix seconds, or a duration ago)")
	cmd.Flags().StringVar(&until, "until", "", "stream events until this time")
	return cmd
}

func printEvent(w io.Writer, ev project.Event, asJSON bool) error {
	if asJSON {
		b, err := json.Marshal(map[string]any{
			"time": ev.Time, "type": "container", "service": ev.Service,
			"id": ev.Container, "action": ev.Action, "attributes": ev.Attributes,
		})
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	}
	var attrs []string
	for _, k := range slices.Sorted(maps.Keys(ev.Attributes)) {
		attrs = append(attrs, k+"="+ev.Attributes[k])
	}
	_, err := fmt.Fprintf(w, "%s container %s %s (%s)\n", ev.Time.Local().Format("2006-01-02 15:04:05.000000"), ev.Action, ev.Container, strings.Join(attrs, ", "))
	return err
}
