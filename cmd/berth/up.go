package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/berthdev/berth/project"
	"github.com/berthdev/berth/runtime"
	"github.com/spf13/cobra"
)

func init() {
	register(newUpCommand)
	register(newDownCommand)
	register(newCreateCommand)
}

func newUpCommand(g *globalOptions) *cobra.Command {
	var opts project.UpOptions
	var detach, abortOnExit, noColor, noLogPrefix, noAttach, alwaysRecreateDeps, watch bool
	var exitCodeFrom string
	var scale []string
	var waitTimeout int
	var timeout timeoutFlag
	cmd := projectCommand(g, "up [SERVICE...]", "Create and start containers", cobra.ArbitraryArgs,
		func(cmd *cobra.Command, p *project.Project, e *project.Engine, args []string) error {
			ev, err := events(cmd, g)
			if err != nil {
				return err
			}
			opts.Services, opts.Events, opts.Timeout = args, ev, timeout.duration()
			opts.WaitTimeout = time.Duration(waitTimeout) * time.Second
			if opts.Scale, err = parseScale(scale); err != nil {
				return err
			}
			if opts.Build && opts.NoBuild {
				return usageError{"--build and --no-build cannot be used together"}
			}
			if detach && (abortOnExit || exitCodeFrom != "") {
				return usageError{"--abort-on-container-exit and --exit-code-from need an attached up (without -d)"}
			}
			if exitCodeFrom != "" {
				abortOnExit = true
				if _, ok := p.Services[exitCodeFrom]; !ok {
					return usageError{fmt.Sprintf("--exit-code-from: no service %q", exitCodeFrom)}
				}
			}
			if alwaysRecreateDeps && opts.NoRecreate {
				return usageError{"--always-recreate-deps and --no-recreate cannot be used together"}
			}
			opts.AlwaysRecreateDeps = alwaysRecreateDeps
			if watch && detach {
				return usageError{"--watch needs an attached up (without -d or --wait)"}
			}
			if watch {
				if err := project.CheckWatch(p, args); err != nil {
					return err
				}
			}
			if err := e.Up(cmd.Context(), p, opts); err != nil {
				return err
			}
			if detach {
				return nil
			}
			ao := attachOptions{abortOnExit: abortOnExit, exitCodeFrom: exitCodeFrom, noColor: noColor, noPrefix: noLogPrefix, timeout: timeout.duration(), noAttach: noAttach}
			if watch {
				ao.watch = watchInAttach(e, p, args, ev)
			}
			return attach(cmd, g, p, e, args, ao)
		})
	f := cmd.Flags()
	f.BoolVarP(&detach, "detach", "d", false, "run containers in the background")
	f.BoolVar(&opts.Build, "build", false, "build images before starting containers")
	f.BoolVar(&opts.NoBuild, "no-build", false, "don't build an image, even if it's missing")
	f.StringVar(&opts.Pull, "pull", "", `pull images before running: "always", "missing", "never"`)
	f.BoolVar(&opts.NoDeps, "no-deps", false, "don't start linked services")
	f.BoolVar(&opts.ForceRecreate, "force-recreate", false, "recreate containers even if nothing changed")
	f.BoolVar(&opts.NoRecreate, "no-recreate", false, "don't recreate containers that exist")
	f.BoolVar(&alwaysRecreateDeps, "always-recreate-deps", false, "recreate the containers of the named services' dependencies, changed or not")
	f.BoolVar(&opts.RemoveOrphans, "remove-orphans", false, "remove containers of services not in the compose file")
	f.BoolVarP(&opts.RenewAnonVolumes, "renew-anon-volumes", "V", false, "recreate anonymous volumes instead of reusing the previous containers' data")
	f.StringArrayVar(&scale, "scale", nil, "scale SERVICE to NUM instances (SERVICE=NUM)")
	f.BoolVar(&opts.NoStart, "no-start", false, "don't start the services after creating them")
	f.BoolVar(&opts.Wait, "wait", false, "wait for services to be running and healthy (implies -d)")
	f.IntVar(&waitTimeout, "wait-timeout", 0, "maximum seconds to wait with --wait")
	f.BoolVar(&abortOnExit, "abort-on-container-exit", false, "stop all containers if any container stops")
	f.StringVar(&exitCodeFrom, "exit-code-from", "", "return the exit code of this service's container (implies --abort-on-container-exit)")
	f.BoolVar(&noColor, "no-color", false, "monochrome output")
	f.BoolVar(&noLogPrefix, "no-log-prefix", false, "don't print a prefix in logs")
	f.BoolVar(&noAttach, "no-attach", false, "don't attach to the output of the services")
	f.BoolVarP(&watch, "watch", "w", false, "watch the source tree and update the services as files change (develop.watch)")
	addTimeout(cmd, &timeout)
	cmd.PreRunE = func(cmd *cobra.Command, _ []string) error {
		if opts.Wait {
			detach = true
		}
		return nil
	}
	return cmd
}

func parseScale(in []string) (map[string]int, error) {
	out := map[string]int{}
	for _, s := range in {
		name, n, ok := strings.Cut(s, "=")
		v, err := strconv.Atoi(n)
		if !ok || err != nil || v < 0 {
			return nil, usageError{fmt.Sprintf("--scale %q: want SERVICE=NUM", s)}
		}
		out[name] = v
	}
	return out, nil
}

type attachOptions struct {
	abortOnExit  bool
	exitCodeFrom string
	noColor      bool
	noPrefix     bool
	noAttach     bool
	timeout      *time.Duration
	// watch, for up --watch, runs until its context ends; its lines join
	// the containers' output.
	watch func(context.Context, func(string)) error
}

// attach follows the stack's logs until Ctrl-C (a graceful stop; a second
// Ctrl-C kills) or, with --abort-on-container-exit, until a container
// stops.
func attach(cmd *cobra.Command, g *globalOptions, p *project.Project, e *project.Engine, services []string, opts attachOptions) error {
	color, err := useColor(cmd.OutOrStdout(), g.Ansi)
	if err != nil {
		return err
	}
	lp := newLogPrinter(cmd.OutOrStdout(), color && !opts.noColor, opts.noPrefix, false)
	for _, name := range p.ServiceNames() {
		lp.Width(len(name) + 2)
	}
	// Ctrl-C ends following; the stack is then stopped here. The root
	// context is cancelled by the same signal, so use a fresh one.
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	follow, cancel := context.WithCancel(context.Background())
	defer cancel()
	exited := make(chan runtime.Info, 16)
	go func() {
		if !opts.noAttach {
			e.Logs(follow, p, project.LogsOptions{Services: services, Follow: true, Tail: -1,
				Line: func(name string, l runtime.LogLine) { lp.Line(name, l.Time, l.Text) }})
		}
	}()
	go watchExits(follow, e, p, services, exited)
	ev, _ := events(cmd, g)
	watchErr, watchDone := make(chan error, 1), make(chan struct{})
	if opts.watch != nil {
		lp.Width(len("watch") + 2)
		go func() {
			defer close(watchDone)
			watchErr <- opts.watch(follow, func(s string) { lp.Line("watch", time.Now(), s) })
		}()
	} else {
		close(watchDone)
	}
	var exitCode int
	var failed error
	select {
	case failed = <-watchErr:
	case <-sigs:
		fmt.Fprintln(cmd.ErrOrStderr(), "Gracefully stopping... (press Ctrl+C again to force)")
		go func() {
			<-sigs
			e.Kill(context.Background(), p, project.KillOptions{Services: services, Signal: syscall.SIGKILL})
		}()
	case info := <-exited:
		if info.ID == "" {
			// The stack was taken down from elsewhere: nothing is left
			// to follow or to stop.
			break
		}
		if !opts.abortOnExit {
			// Without abort, keep following until every container stops.
			for remaining := true; remaining; {
				select {
				case <-sigs:
					remaining = false
				case <-time.After(200 * time.Millisecond):
					ps, _ := e.Ps(context.Background(), p, project.PsOptions{Services: services})
					remaining = len(ps) > 0
				}
			}
		} else {
			fmt.Fprintf(cmd.ErrOrStderr(), "%s exited with code %d; aborting on container exit...\n", info.Name, info.ExitCode)
		}
	}
	cancel()
	<-watchDone // the watch has stopped changing containers
	if err := e.Stop(context.Background(), p, project.StopOptions{Services: services, Timeout: opts.timeout, Events: ev}); err != nil {
		return err
	}
	if failed != nil {
		return failed
	}
	if opts.exitCodeFrom != "" {
		ps, err := e.Ps(context.Background(), p, project.PsOptions{Services: []string{opts.exitCodeFrom}, All: true})
		if err != nil {
			return err
		}
		for _, s := range ps {
			exitCode = s.ExitCode
		}
		if exitCode != 0 {
			return exitError{exitCode}
		}
	}
	return nil
}

// watchExits reports containers of the services that stop, and a zero
// Info once none of them is left (a `down` from another shell).
func watchExits(ctx context.Context, e *project.Engine, p *project.Project, services []string, out chan<- runtime.Info) {
	for ctx.Err() == nil {
		ps, err := e.Ps(ctx, p, project.PsOptions{Services: services, All: true})
		if err == nil {
			if len(ps) == 0 {
				out <- runtime.Info{}
				return
			}
			for _, s := range ps {
				if s.State == string(runtime.StatusExited) {
					info, err := e.Runtime.Inspect(ctx, s.ID)
					if err == nil && !info.MonitorAlive {
						out <- info
						return
					}
				}
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

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

func newCreateCommand(g *globalOptions) *cobra.Command {
	var opts project.UpOptions
	var scale []string
	cmd := projectCommand(g, "create [SERVICE...]", "Create containers without starting them", cobra.ArbitraryArgs,
		func(cmd *cobra.Command, p *project.Project, e *project.Engine, args []string) error {
			ev, err := events(cmd, g)
			if err != nil {
				return err
			}
			if opts.Scale, err = parseScale(scale); err != nil {
				return err
			}
			opts.Services, opts.Events, opts.NoStart = args, ev, true
			return e.Up(cmd.Context(), p, opts)
		})
	f := cmd.Flags()
	f.BoolVar(&opts.Build, "build", false, "build images before creating containers")
	f.BoolVar(&opts.NoBuild, "no-build", false, "don't build an image, even if it's missing")
	f.StringVar(&opts.Pull, "pull", "", `pull images: "always", "missing", "never"`)
	f.BoolVar(&opts.ForceRecreate, "force-recreate", false, "recreate containers even if nothing changed")
	f.BoolVar(&opts.NoRecreate, "no-recreate", false, "don't recreate containers that exist")
	f.BoolVar(&opts.RemoveOrphans, "remove-orphans", false, "remove containers of services not in the compose file")
	f.StringArrayVar(&scale, "scale", nil, "scale SERVICE to NUM instances")
	return cmd
}
