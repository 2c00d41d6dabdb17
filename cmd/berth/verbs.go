package main

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/berthdev/berth/project"
	"github.com/berthdev/berth/runtime"
	"github.com/spf13/cobra"
)

func init() {
	for _, f := range []func(*globalOptions) *cobra.Command{
		newPsCommand, newLogsCommand, newStartCommand, newStopCommand, newRestartCommand,
		newKillCommand, newRmCommand, newPauseCommand, newUnpauseCommand, newPortCommand,
		newWaitCommand, newTopCommand, newLsCommand,
	} {
		register(f)
	}
}

func newPsCommand(g *globalOptions) *cobra.Command {
	var all, quiet, services bool
	var format string
	var status []string
	cmd := projectCommand(g, "ps [SERVICE...]", "List containers", cobra.ArbitraryArgs,
		func(cmd *cobra.Command, p *project.Project, e *project.Engine, args []string) error {
			if services {
				names := p.ServiceNames()
				sort.Strings(names)
				for _, n := range names {
					fmt.Fprintln(cmd.OutOrStdout(), n)
				}
				return nil
			}
			rows, err := e.Ps(cmd.Context(), p, project.PsOptions{Services: args, All: all, Status: status})
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if quiet {
				for _, r := range rows {
					fmt.Fprintln(out, r.ID)
				}
				return nil
			}
			switch format {
			case "json":
				if rows == nil {
					rows = []project.Summary{}
				}
				return writeJSON(out, rows)
			case "table", "":
				tw := tabwriter.NewWriter(out, 0, 4, 3, ' ', 0)
				fmt.Fprintln(tw, "NAME\tIMAGE\tCOMMAND\tSERVICE\tCREATED\tSTATUS\tPORTS")
				for _, r := range rows {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Name, r.Image, r.Command, r.Service, humanAge(time.Unix(r.Created, 0)), r.Status, r.Ports)
				}
				return tw.Flush()
			}
			return usageError{fmt.Sprintf("--format %q: want table or json", format)}
		})
	f := cmd.Flags()
	f.BoolVarP(&all, "all", "a", false, "show all containers, stopped ones too")
	f.BoolVarP(&quiet, "quiet", "q", false, "only IDs")
	f.BoolVar(&services, "services", false, "only service names")
	f.StringVar(&format, "format", "table", "table or json")
	f.StringArrayVar(&status, "status", nil, "filter by status: created, running, paused, restarting, exited, dead")
	return cmd
}

func newLogsCommand(g *globalOptions) *cobra.Command {
	var follow, timestamps, noColor, noPrefix bool
	var tail, since, until string
	var index int
	cmd := projectCommand(g, "logs [SERVICE...]", "Show container output", cobra.ArbitraryArgs,
		func(cmd *cobra.Command, p *project.Project, e *project.Engine, args []string) error {
			opts := project.LogsOptions{Services: args, Follow: follow, Tail: -1, Index: index}
			if tail != "all" && tail != "" {
				n, err := fmt.Sscanf(tail, "%d", &opts.Tail)
				if n != 1 || err != nil {
					return usageError{fmt.Sprintf("--tail %q: want a number or all", tail)}
				}
			}
			var err error
			if opts.Since, err = parseTime(since); err != nil {
				return usageError{fmt.Sprintf("--since: %v", err)}
			}
			if opts.Until, err = parseTime(until); err != nil {
				return usageError{fmt.Sprintf("--until: %v", err)}
			}
			color, err := useColor(cmd.OutOrStdout(), g.Ansi)
			if err != nil {
				return err
			}
			lp := newLogPrinter(cmd.OutOrStdout(), color && !noColor, noPrefix, timestamps)
			for _, n := range p.ServiceNames() {
				lp.Width(len(n) + 2)
			}
			opts.Line = func(name string, l runtime.LogLine) { lp.Line(name, l.Time, l.Text) }
			return e.Logs(cmd.Context(), p, opts)
		})
	f := cmd.Flags()
	f.BoolVarP(&follow, "follow", "f", false, "follow log output")
	f.StringVarP(&tail, "tail", "n", "all", "number of lines from the end of the logs")
	f.BoolVarP(&timestamps, "timestamps", "t", false, "show timestamps")
	f.StringVar(&since, "since", "", "show logs since a timestamp (RFC 3339) or relative (e.g. 42m)")
	f.StringVar(&until, "until", "", "show logs before a timestamp or relative time")
	f.BoolVar(&noColor, "no-color", false, "monochrome output")
	f.BoolVar(&noPrefix, "no-log-prefix", false, "don't print a prefix")
	f.IntVar(&index, "index", 0, "the replica to show, when a service has several")
	return cmd
}

// parseTime reads a timestamp or a duration before now.
func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		return time.Now().Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339Nano, time.RFC3339, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	var secs int64
	if _, err := fmt.Sscanf(s, "%d", &secs); err == nil {
		return time.Unix(secs, 0), nil
	}
	return time.Time{}, fmt.Errorf("%q is not a timestamp or duration", s)
}

func newStartCommand(g *globalOptions) *cobra.Command {
	return projectCommand(g, "start [SERVICE...]", "Start existing containers", cobra.ArbitraryArgs,
		func(cmd *cobra.Command, p *project.Project, e *project.Engine, args []string) error {
			ev, err := events(cmd, g)
			if err != nil {
				return err
			}
			return e.Start(cmd.Context(), p, project.StartOptions{Services: args, Events: ev})
		})
}

func newStopCommand(g *globalOptions) *cobra.Command {
	var timeout timeoutFlag
	cmd := projectCommand(g, "stop [SERVICE...]", "Stop running containers", cobra.ArbitraryArgs,
		func(cmd *cobra.Command, p *project.Project, e *project.Engine, args []string) error {
			ev, err := events(cmd, g)
			if err != nil {
				return err
			}
			return e.Stop(cmd.Context(), p, project.StopOptions{Services: args, Timeout: timeout.duration(), Events: ev})
		})
	addTimeout(cmd, &timeout)
	return cmd
}

func newRestartCommand(g *globalOptions) *cobra.Command {
	var timeout timeoutFlag
	var noDeps bool
	cmd := projectCommand(g, "restart [SERVICE...]", "Restart containers", cobra.ArbitraryArgs,
		func(cmd *cobra.Command, p *project.Project, e *project.Engine, args []string) error {
			ev, err := events(cmd, g)
			if err != nil {
				return err
			}
			return e.Restart(cmd.Context(), p, project.RestartOptions{Services: args, Timeout: timeout.duration(), NoDeps: noDeps, Events: ev})
		})
	addTimeout(cmd, &timeout)
	cmd.Flags().BoolVar(&noDeps, "no-deps", false, "don't restart dependent services")
	return cmd
}

func newKillCommand(g *globalOptions) *cobra.Command {
	var sig string
	var removeOrphans bool
	cmd := projectCommand(g, "kill [SERVICE...]", "Send a signal to containers", cobra.ArbitraryArgs,
		func(cmd *cobra.Command, p *project.Project, e *project.Engine, args []string) error {
			s, err := runtime.ParseSignal(sig)
			if err != nil {
				return usageError{fmt.Sprintf("--signal: %v", err)}
			}
			ev, err := events(cmd, g)
			if err != nil {
				return err
			}
			return e.Kill(cmd.Context(), p, project.KillOptions{Services: args, Signal: s, RemoveOrphans: removeOrphans, Events: ev})
		})
	cmd.Flags().StringVarP(&sig, "signal", "s", "SIGKILL", "signal to send")
	cmd.Flags().BoolVar(&removeOrphans, "remove-orphans", false, "also signal the containers of services no longer in the compose file (as docker compose, it does not remove them)")
	return cmd
}

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
	cmd.Flags().BoolVarP(&opts.Force, "force", "f", false, "don't ask to confirm")
	cmd.Flags().BoolVarP(&opts.Stop, "stop", "s", false, "stop the containers first")
	cmd.Flags().BoolVarP(&opts.Volumes, "volumes", "v", false, "remove anonymous volumes of the containers")
	return cmd
}

func newPauseCommand(g *globalOptions) *cobra.Command {
	return projectCommand(g, "pause [SERVICE...]", "Pause containers", cobra.ArbitraryArgs,
		func(cmd *cobra.Command, p *project.Project, e *project.Engine, args []string) error {
			ev, err := events(cmd, g)
			if err != nil {
				return err
			}
			return e.Pause(cmd.Context(), p, args, false, ev)
		})
}

func newUnpauseCommand(g *globalOptions) *cobra.Command {
	return projectCommand(g, "unpause [SERVICE...]", "Unpause containers", cobra.ArbitraryArgs,
		func(cmd *cobra.Command, p *project.Project, e *project.Engine, args []string) error {
			ev, err := events(cmd, g)
			if err != nil {
				return err
			}
			return e.Pause(cmd.Context(), p, args, true, ev)
		})
}

func newPortCommand(g *globalOptions) *cobra.Command {
	var protocol string
	var index int
	cmd := projectCommand(g, "port SERVICE PRIVATE_PORT", "Print the public port of a port binding", cobra.ExactArgs(2),
		func(cmd *cobra.Command, p *project.Project, e *project.Engine, args []string) error {
			var private int
			if _, err := fmt.Sscanf(args[1], "%d", &private); err != nil {
				return usageError{fmt.Sprintf("%q is not a port number", args[1])}
			}
			ps, err := e.Ps(cmd.Context(), p, project.PsOptions{Services: []string{args[0]}})
			if err != nil {
				return err
			}
			if index == 0 {
				index = 1
			}
			for _, s := range ps {
				if s.Number != index {
					continue
				}
				for _, pub := range s.Publishers {
					if pub.TargetPort == private && pub.Protocol == protocol {
						fmt.Fprintf(cmd.OutOrStdout(), "%s:%d\n", loopbackFor(pub.URL), pub.PublishedPort)
						return nil
					}
				}
			}
			return fmt.Errorf("no port %d/%s is published by service %q", private, protocol, args[0])
		})
	cmd.Flags().StringVar(&protocol, "protocol", "tcp", "tcp or udp")
	cmd.Flags().IntVar(&index, "index", 0, "the replica, when a service has several")
	return cmd
}

// loopbackFor prints 0.0.0.0 as compose does.
func loopbackFor(ip string) string { return ip }

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

func newTopCommand(g *globalOptions) *cobra.Command {
	return projectCommand(g, "top [SERVICE...]", "Show the running processes", cobra.ArbitraryArgs,
		func(cmd *cobra.Command, p *project.Project, e *project.Engine, args []string) error {
			ps, err := e.Ps(cmd.Context(), p, project.PsOptions{Services: args})
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			for _, s := range ps {
				pids, err := e.Runtime.Processes(cmd.Context(), s.ID)
				if err != nil {
					continue
				}
				fmt.Fprintln(out, s.Name)
				tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "UID\tPID\tPPID\tCMD")
				for _, pid := range pids {
					uid, ppid, cmdline := procInfo(pid)
					fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", uid, pid, ppid, cmdline)
				}
				tw.Flush()
				fmt.Fprintln(out)
			}
			return nil
		})
}

func procInfo(pid int) (uid, ppid, cmdline string) {
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "Uid:"); ok {
				uid = strings.Fields(v)[0]
			}
			if v, ok := strings.CutPrefix(l, "PPid:"); ok {
				ppid = strings.TrimSpace(v)
			}
		}
	}
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err == nil {
		cmdline = strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " "))
	}
	return
}

func newLsCommand(g *globalOptions) *cobra.Command {
	var all, quiet bool
	var format string
	cmd := &cobra.Command{
		Use:   "ls",
		Short: "List running projects",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := g.storage(); err != nil {
				return err
			}
			rt, err := runtime.Open(g.Root, g.State)
			if err != nil {
				return err
			}
			infos, err := rt.List(cmd.Context())
			if err != nil {
				return err
			}
			type row struct {
				Name        string `json:"Name"`
				Status      string `json:"Status"`
				ConfigFiles string `json:"ConfigFiles"`
			}
			counts := map[string]map[runtime.Status]int{}
			files := map[string]string{}
			for _, i := range infos {
				pn := i.Labels[project.LabelProject]
				if pn == "" {
					continue
				}
				if counts[pn] == nil {
					counts[pn] = map[runtime.Status]int{}
				}
				counts[pn][i.Status]++
				files[pn] = i.Labels[project.LabelFiles]
			}
			var rows []row
			for pn, c := range counts {
				if c[runtime.StatusRunning] == 0 && !all {
					continue
				}
				var parts []string
				for _, st := range []runtime.Status{runtime.StatusRunning, runtime.StatusPaused, runtime.StatusRestarting, runtime.StatusExited, runtime.StatusCreated} {
					if c[st] > 0 {
						parts = append(parts, fmt.Sprintf("%s(%d)", st, c[st]))
					}
				}
				rows = append(rows, row{pn, strings.Join(parts, ", "), files[pn]})
			}
			sort.Slice(rows, func(i, j int) bool { return rows[i].Name < rows[j].Name })
			out := cmd.OutOrStdout()
			switch {
			case quiet:
				for _, r := range rows {
					fmt.Fprintln(out, r.Name)
				}
				return nil
			case format == "json":
				if rows == nil {
					rows = []row{}
				}
				return writeJSON(out, rows)
			}
			tw := tabwriter.NewWriter(out, 0, 4, 3, ' ', 0)
			fmt.Fprintln(tw, "NAME\tSTATUS\tCONFIG FILES")
			for _, r := range rows {
				fmt.Fprintf(tw, "%s\t%s\t%s\n", r.Name, r.Status, r.ConfigFiles)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "show stopped projects too")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "only names")
	cmd.Flags().StringVar(&format, "format", "table", "table or json")
	return cmd
}
