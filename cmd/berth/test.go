package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/berthdev/berth/project"
	"github.com/spf13/cobra"
)

func init() { register(newTestCommand) }

// Exit codes of `berth test` other than the test's own, as timeout(1) and
// shells report a timeout and a death by signal.
const (
	exitTimeout = 124
	exitSIGINT  = 128 + int(syscall.SIGINT)
	exitSIGTERM = 128 + int(syscall.SIGTERM)
)

func newTestCommand(g *globalOptions) *cobra.Command {
	var opts project.TestOptions
	var prune, jsonOut bool
	cmd := &cobra.Command{
		Use:   "test [OPTIONS] SERVICE [-- COMMAND [ARGS...]]",
		Short: "Run a service's tests in a throwaway stack, then remove the stack",
		Long: `Run SERVICE (its command, or COMMAND) in a throwaway stack of the project
named <project>-test-<id>: its dependencies are started and their depends_on
conditions met first, the test runs attached, berth exits with its exit code,
and everything of the stack is removed whatever happened (Ctrl-C, SIGTERM,
--timeout included).

Runs of one project do not collide: fixed host ports are published on free
ports instead, and fixed container names get the stack's suffix. The test
gets the stack's name as BERTH_PROJECT and the host address of each published
port as BERTH_ADDR_<SERVICE>_<PORT>=127.0.0.1:NNNN (for a test on the host's
network; on the project's network, SERVICE:PORT reaches it), which
` + "`berth -p <project>-test-<id> port`" + ` also shows while it runs. External
volumes and networks are shared. A stack whose berth was killed is removed by
the next berth command on the same root; --prune removes those and the ones
--keep kept.

The test's standard input is empty, and it has no terminal. Exit codes: the
test's own; 124 when --timeout ends the run; 130 and 143 on SIGINT and
SIGTERM; 1 when the test could not run.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if prune && len(args) > 0 {
				return usageError{"--prune takes no service"}
			}
			if !prune && len(args) == 0 {
				return usageError{"berth test needs a SERVICE\nSee 'berth test --help'."}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if prune {
				return pruneThrowaways(cmd, g)
			}
			return withProject(cmd, g, args, func(cmd *cobra.Command, p *project.Project, e *project.Engine, args []string) error {
				opts.Service = args[0]
				// Flags end at SERVICE: a "--" after it only separates
				// the command, which may also follow without one.
				command := args[1:]
				if len(command) > 0 && command[0] == "--" {
					command = command[1:]
				}
				if len(command) > 0 {
					opts.Command = command
				}
				return runTest(cmd, g, p, e, opts, jsonOut || g.Progress == "json")
			})
		},
	}
	f := cmd.Flags()
	f.SetInterspersed(false)
	f.DurationVar(&opts.Timeout, "timeout", 0, "end the run (and remove the stack) after this long, e.g. 5m; exit code 124")
	f.BoolVar(&opts.Keep, "keep", false, "keep the stack when the test does not pass (not after SIGINT or SIGTERM), and print the command that removes it")
	f.BoolVar(&prune, "prune", false, "remove throwaway stacks whose berth is gone, and kept ones")
	f.IntVar(&opts.LogsOnFailure, "logs-on-failure", 30, "when the test does not pass, print this many last lines of each dependency's log (0: none)")
	f.StringVar(&opts.SeedFrom, "seed-from", "", "start the stack's named volumes as copy-on-write layers over those of this project")
	f.BoolVar(&jsonOut, "json", false, "print one JSON result record on standard output (the test's output goes to standard error)")
	f.StringArrayVarP(&opts.Env, "env", "e", nil, "set environment variables in the test")
	f.StringVar(&opts.Pull, "pull", "", `pull images: "always", "missing", "never"`)
	f.BoolVar(&opts.Build, "build", false, "build images before starting")
	return cmd
}

func runTest(cmd *cobra.Command, g *globalOptions, p *project.Project, e *project.Engine, opts project.TestOptions, record bool) error {
	stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
	ev, err := newPhasedProgress(stderr, g.Progress, g.Ansi)
	if err != nil {
		return err
	}
	opts.Events = ev.Event
	opts.Warn = func(msg string) { fmt.Fprintln(stderr, "berth: warning:", msg) }
	out := stdout
	if record {
		// Standard output carries the record alone.
		out = stderr
	}
	opts.Stdio = project.Stdio{Out: ev.writer(out), Err: ev.writer(stderr)}

	// The root context ends at the first signal; here a signal ends the
	// test, and the stack is removed before berth exits. Later signals
	// are caught and ignored until then.
	ctx, cancel := context.WithCancel(context.WithoutCancel(cmd.Context()))
	defer cancel()
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	var mu sync.Mutex
	var got os.Signal
	go func() {
		select {
		case s := <-sigs:
			mu.Lock()
			got = s
			mu.Unlock()
			cancel()
		case <-ctx.Done():
		}
	}()

	res, err := e.Test(ctx, p, opts)
	if res.Outcome != project.TestPassed && res.Outcome != project.TestInterrupted && opts.LogsOnFailure > 0 {
		printFailure(stderr, res)
	}
	removeCmd := ""
	if res.Kept {
		removeCmd = removeCommand(g, res.Project)
		fmt.Fprintf(stderr, "berth: kept throwaway stack %s; remove it with:\n  %s\n", res.Project, removeCmd)
	}
	if record {
		writeRecord(stdout, res, err, removeCmd)
	}
	switch res.Outcome {
	case project.TestPassed, project.TestFailed:
		if err != nil {
			// The test ran; the stack could not be removed.
			fmt.Fprintln(stderr, "berth:", err)
			if res.ExitCode == 0 {
				return exitError{1}
			}
		}
		if res.ExitCode != 0 {
			return exitError{res.ExitCode}
		}
		return nil
	case project.TestTimedOut:
		fmt.Fprintln(stderr, "berth:", err)
		return exitError{exitTimeout}
	case project.TestInterrupted:
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(stderr, "berth: %v by %v\n", err, got)
		if got == syscall.SIGTERM {
			return exitError{exitSIGTERM}
		}
		return exitError{exitSIGINT}
	}
	return err
}

// printFailure shows why a run did not pass: the state and health of each
// container of the stack and the last lines of the dependencies' logs.
func printFailure(w io.Writer, res project.TestResult) {
	var b strings.Builder
	switch res.Outcome {
	case project.TestFailed:
		fmt.Fprintf(&b, "berth: test %s exited with code %d; the stack %s was:\n", res.Service, res.ExitCode, res.Project)
	default:
		fmt.Fprintf(&b, "berth: test %s did not pass (%s); the stack %s was:\n", res.Service, res.Outcome, res.Project)
	}
	for _, s := range res.Services {
		if s.Test {
			continue
		}
		state := s.State
		if s.State == "exited" {
			state = fmt.Sprintf("exited (%d)", s.ExitCode)
		}
		if s.Health != "" {
			state += ", " + s.Health
		}
		fmt.Fprintf(&b, "--- %s (%s): %s\n", s.Service, s.Name, state)
		if p := s.LastProbe; p != nil && s.Health != "healthy" {
			fmt.Fprintf(&b, "    last health check: exit %d: %s\n", p.ExitCode, strings.TrimSpace(p.Output))
		}
		for _, l := range s.Logs {
			fmt.Fprintf(&b, "%s | %s\n", s.Service, l.Text)
		}
	}
	io.WriteString(w, b.String())
}

// removeCommand is the one command that removes a kept stack.
func removeCommand(g *globalOptions, name string) string {
	args := []string{"berth"}
	if g.Root != "/var/lib/berth" {
		args = append(args, "--root", g.Root)
	}
	if g.State != "/run/berth" {
		args = append(args, "--state", g.State)
	}
	return strings.Join(append(args, "-p", name, "down"), " ")
}

// testRecord is --json's result record.
type testRecord struct {
	Project       string            `json:"project"`
	Service       string            `json:"service"`
	Outcome       string            `json:"outcome"`
	ExitCode      int               `json:"exit_code"`
	Error         string            `json:"error,omitempty"`
	Durations     map[string]int64  `json:"durations_ms"`
	Addresses     map[string]string `json:"addresses,omitempty"`
	Services      []testRecordEntry `json:"services"`
	Kept          bool              `json:"kept"`
	RemoveCommand string            `json:"remove_command,omitempty"`
	Removed       bool              `json:"removed"`
}

type testRecordEntry struct {
	Service  string `json:"service"`
	Name     string `json:"name"`
	Test     bool   `json:"test,omitempty"`
	State    string `json:"state"`
	ExitCode int    `json:"exit_code"`
	Health   string `json:"health,omitempty"`
}

func writeRecord(w io.Writer, res project.TestResult, err error, removeCmd string) {
	ms := func(d time.Duration) int64 { return d.Milliseconds() }
	r := testRecord{
		Project: res.Project, Service: res.Service, Outcome: string(res.Outcome), ExitCode: res.ExitCode,
		Durations: map[string]int64{"setup": ms(res.Setup), "test": ms(res.Run), "teardown": ms(res.Teardown), "total": ms(res.Total)},
		Addresses: res.Addresses, Kept: res.Kept, RemoveCommand: removeCmd, Removed: res.Removed,
		Services: []testRecordEntry{},
	}
	if err != nil {
		r.Error = err.Error()
	}
	for _, s := range res.Services {
		r.Services = append(r.Services, testRecordEntry{Service: s.Service, Name: s.Name, Test: s.Test, State: s.State, ExitCode: s.ExitCode, Health: s.Health})
	}
	b, _ := json.Marshal(r)
	fmt.Fprintf(w, "%s\n", b)
}

func pruneThrowaways(cmd *cobra.Command, g *globalOptions) error {
	e, err := openEngine(g)
	if err != nil {
		return err
	}
	ev, err := events(cmd, g)
	if err != nil {
		return err
	}
	removed, err := e.PruneThrowaways(context.WithoutCancel(cmd.Context()), true, ev)
	for _, name := range removed {
		fmt.Fprintln(cmd.OutOrStdout(), name)
	}
	return err
}

// reapThrowaways removes the throwaway stacks of the root whose berth test
// (or test binary) was killed before it could; every command that uses
// the store runs it first.
func (g *globalOptions) reapThrowaways(cmd *cobra.Command) {
	removed, err := project.ReapAbandoned(context.WithoutCancel(cmd.Context()), g.Root, g.State, nil)
	for _, name := range removed {
		fmt.Fprintf(cmd.ErrOrStderr(), "berth: removed throwaway stack %s, whose owner is gone\n", name)
	}
	if err != nil {
		fmt.Fprintln(cmd.ErrOrStderr(), "berth: warning: removing abandoned throwaway stacks:", err)
	}
}

// phasedProgress prints progress in phases: once the test has written
// output, the next event starts a fresh printer below it, so that a
// terminal's redrawn lines never overwrite the test's.
type phasedProgress struct {
	mu    sync.Mutex
	cur   *progress
	stale bool
	mk    func() *progress
}

func newPhasedProgress(w io.Writer, mode, ansi string) (*phasedProgress, error) {
	first, err := newProgress(w, mode, ansi)
	if err != nil {
		return nil, err
	}
	return &phasedProgress{cur: first, mk: func() *progress { p, _ := newProgress(w, mode, ansi); return p }}, nil
}

func (p *phasedProgress) Event(resource, status string) {
	p.mu.Lock()
	if p.stale {
		p.cur, p.stale = p.mk(), false
	}
	cur := p.cur
	p.mu.Unlock()
	cur.Event(resource, status)
}

func (p *phasedProgress) writer(w io.Writer) io.Writer { return phaseWriter{p, w} }

type phaseWriter struct {
	p *phasedProgress
	w io.Writer
}

func (pw phaseWriter) Write(b []byte) (int, error) {
	pw.p.mu.Lock()
	pw.p.stale = true
	pw.p.mu.Unlock()
	return pw.w.Write(b)
}
