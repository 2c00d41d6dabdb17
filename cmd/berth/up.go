package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/berthdev/berth/project"
	"github.com/spf13/cobra"
)

func init() {
	register(newUpCommand)
	register(newCreateCommand)
}

func newUpCommand(g *globalOptions) *cobra.Command {
	var opts project.UpOptions
	var attach project.AttachOptions
	var detach, noColor, noLogPrefix bool
	var pull string
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
			if opts.Pull, err = parsePull(pull); err != nil {
				return err
			}
			if err := checkRecreate(opts); err != nil {
				return err
			}
			if opts.Wait {
				detach = true
			}
			if detach && (attach.AbortOnExit || attach.ExitCodeFrom != "" || attach.Watch || len(attach.NoAttach) > 0) {
				return usageError{"--abort-on-container-exit, --exit-code-from, --no-attach and --watch need an attached up (without -d or --wait)"}
			}
			if detach || opts.NoStart {
				return e.Up(cmd.Context(), p, opts)
			}
			color, err := useColor(cmd.OutOrStdout(), g.Ansi)
			if err != nil {
				return err
			}
			lp := newLogPrinter(cmd.OutOrStdout(), color && !noColor, noLogPrefix, false)
			for _, name := range append(p.ServiceNames(), "watch") {
				lp.Width(len(name) + 2)
			}
			attach.Line = lp.LogLine
			stderr := cmd.ErrOrStderr()
			attach.Notice = func(s string) { fmt.Fprintln(stderr, s) }
			attach.Kill = secondInterrupt()
			opts.Attach = &attach
			return e.Up(cmd.Context(), p, opts)
		})
	f := cmd.Flags()
	f.BoolVarP(&detach, "detach", "d", false, "run containers in the background")
	f.BoolVar(&opts.Build, "build", false, "build images before starting containers")
	f.BoolVar(&opts.NoBuild, "no-build", false, "don't build an image, even if it's missing")
	f.StringVar(&pull, "pull", "policy", `pull images before running: "always", "missing", "never", "build" or each service's "policy"`)
	f.BoolVar(&opts.NoDeps, "no-deps", false, "don't start linked services")
	f.BoolVar(&opts.ForceRecreate, "force-recreate", false, "recreate containers even if nothing changed")
	f.BoolVar(&opts.NoRecreate, "no-recreate", false, "don't recreate containers that exist")
	f.BoolVar(&opts.AlwaysRecreateDeps, "always-recreate-deps", false, "recreate the containers of the named services' dependencies, changed or not")
	f.BoolVar(&opts.RemoveOrphans, "remove-orphans", false, "remove containers of services not in the compose file")
	f.BoolVarP(&opts.RenewAnonVolumes, "renew-anon-volumes", "V", false, "recreate anonymous volumes instead of reusing the previous containers' data")
	f.StringArrayVar(&scale, "scale", nil, "scale SERVICE to NUM instances (SERVICE=NUM)")
	f.BoolVar(&opts.NoStart, "no-start", false, "don't start the services after creating them (implies -d)")
	f.BoolVar(&opts.Wait, "wait", false, "wait for services to be running and healthy (implies -d)")
	f.IntVar(&waitTimeout, "wait-timeout", 0, "maximum seconds to wait with --wait")
	f.BoolVar(&attach.AbortOnExit, "abort-on-container-exit", false, "stop all containers if any container stops")
	f.StringVar(&attach.ExitCodeFrom, "exit-code-from", "", "return the exit code of this service's container (implies --abort-on-container-exit)")
	f.BoolVar(&noColor, "no-color", false, "monochrome output")
	f.BoolVar(&noLogPrefix, "no-log-prefix", false, "don't print a prefix in logs")
	f.StringArrayVar(&attach.NoAttach, "no-attach", nil, "don't show the output of this service (repeat for several)")
	f.BoolVarP(&attach.Watch, "watch", "w", false, "watch the source tree and update the services as files change (develop.watch)")
	addTimeout(cmd, &timeout)
	return cmd
}

// checkRecreate refuses the recreate flags that contradict each other, as
// docker compose does.
func checkRecreate(opts project.UpOptions) error {
	switch {
	case opts.Build && opts.NoBuild:
		return usageError{"--build and --no-build cannot be used together"}
	case opts.NoRecreate && opts.ForceRecreate:
		return usageError{"--force-recreate and --no-recreate cannot be used together"}
	case opts.NoRecreate && opts.AlwaysRecreateDeps:
		return usageError{"--always-recreate-deps and --no-recreate cannot be used together"}
	case opts.NoRecreate && opts.RenewAnonVolumes:
		return usageError{"--renew-anon-volumes and --no-recreate cannot be used together"}
	}
	return nil
}

// secondInterrupt closes once Ctrl-C (or SIGTERM) has come twice: the
// first cancels the command's context (run), the second asks to kill
// instead of waiting for a graceful stop.
func secondInterrupt() <-chan struct{} {
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	kill := make(chan struct{})
	go func() {
		<-sigs
		<-sigs
		signal.Stop(sigs)
		close(kill)
	}()
	return kill
}

func newCreateCommand(g *globalOptions) *cobra.Command {
	var opts project.UpOptions
	var scale []string
	var pull string
	cmd := projectCommand(g, "create [SERVICE...]", "Create containers without starting them", cobra.ArbitraryArgs,
		func(cmd *cobra.Command, p *project.Project, e *project.Engine, args []string) error {
			ev, err := events(cmd, g)
			if err != nil {
				return err
			}
			if opts.Scale, err = parseScale(scale); err != nil {
				return err
			}
			if opts.Pull, err = parsePull(pull); err != nil {
				return err
			}
			if err := checkRecreate(opts); err != nil {
				return err
			}
			opts.Services, opts.Events, opts.NoStart = args, ev, true
			return e.Up(cmd.Context(), p, opts)
		})
	f := cmd.Flags()
	f.BoolVar(&opts.Build, "build", false, "build images before creating containers")
	f.BoolVar(&opts.NoBuild, "no-build", false, "don't build an image, even if it's missing")
	f.StringVar(&pull, "pull", "policy", `pull images: "always", "missing", "never", "build" or each service's "policy"`)
	f.BoolVar(&opts.ForceRecreate, "force-recreate", false, "recreate containers even if nothing changed")
	f.BoolVar(&opts.NoRecreate, "no-recreate", false, "don't recreate containers that exist")
	f.BoolVar(&opts.RemoveOrphans, "remove-orphans", false, "remove containers of services not in the compose file")
	f.StringArrayVar(&scale, "scale", nil, "scale SERVICE to NUM instances")
	return cmd
}
