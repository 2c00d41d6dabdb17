package main

import (
	"context"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/berthdev/berth/project"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

func init() {
	register(newRunCommand)
	register(newExecCommand)
}

// terminal sets up the caller's terminal for a container with a TTY: raw
// mode, the size, and resize events; restore undoes it.
func terminal(st *project.Stdio) (restore func()) {
	fd := int(os.Stdin.Fd())
	if !term.IsTerminal(fd) {
		return func() {}
	}
	old, err := term.MakeRaw(fd)
	if err != nil {
		return func() {}
	}
	if w, h, err := term.GetSize(int(os.Stdout.Fd())); err == nil {
		st.Size = &project.WinSize{Width: uint16(w), Height: uint16(h)}
	}
	resize := make(chan project.WinSize, 1)
	winch := make(chan os.Signal, 1)
	signal.Notify(winch, syscall.SIGWINCH)
	go func() {
		for range winch {
			if w, h, err := term.GetSize(int(os.Stdout.Fd())); err == nil {
				select {
				case resize <- project.WinSize{Width: uint16(w), Height: uint16(h)}:
				default:
				}
			}
		}
	}()
	st.Resize = resize
	return func() {
		signal.Stop(winch)
		term.Restore(fd, old)
	}
}

// stdio wires the command's streams; without a TTY, SIGINT and SIGTERM
// are forwarded to the container's process.
func stdio(cmd *cobra.Command, interactive, tty bool) (project.Stdio, func()) {
	st := project.Stdio{Out: cmd.OutOrStdout(), Err: cmd.ErrOrStderr()}
	if interactive {
		st.In = cmd.InOrStdin()
	}
	if tty {
		return st, terminal(&st)
	}
	return st, func() {}
}

func newRunCommand(g *globalOptions) *cobra.Command {
	var opts project.RunOptions
	var noTTY, tty bool
	var entrypoint string
	var publish, volumes, labels, env []string
	var pull string
	cmd := projectCommand(g, "run [OPTIONS] SERVICE [COMMAND] [ARGS...]", "Run a one-off command in a new container of a service", cobra.MinimumNArgs(1),
		func(cmd *cobra.Command, p *project.Project, e *project.Engine, args []string) error {
			ev, err := events(cmd, g)
			if err != nil {
				return err
			}
			opts.Service = args[0]
			if len(args) > 1 {
				opts.Command = args[1:]
			}
			if cmd.Flags().Changed("entrypoint") {
				ep := []string{}
				if entrypoint != "" {
					ep = strings.Fields(entrypoint)
				}
				opts.Entrypoint = &ep
			}
			opts.Events = ev
			if opts.Publish, err = parsePublish(publish); err != nil {
				return err
			}
			if opts.Volumes, err = parseVolumes(volumes); err != nil {
				return err
			}
			if opts.Labels, err = parseLabels("-l", labels); err != nil {
				return err
			}
			if opts.Env, err = parseEnv(env, os.LookupEnv); err != nil {
				return err
			}
			if opts.Pull, err = parsePull(pull); err != nil {
				return err
			}
			// A TTY when stdin is a terminal, unless -T; -t forces one.
			opts.Tty = (tty || term.IsTerminal(int(os.Stdin.Fd()))) && !noTTY && !opts.Detach
			if opts.Tty {
				opts.Interactive = true
			}
			var restore func()
			opts.Stdio, restore = stdio(cmd, opts.Interactive, opts.Tty)
			if !opts.Tty {
				sigs := make(chan os.Signal, 4)
				signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
				defer signal.Stop(sigs)
				opts.Stdio.Signals = sigs
			}
			// The root context would end at the first Ctrl-C; here the
			// signal goes to the container, and the run ends with it.
			code, err := e.Run(context.WithoutCancel(cmd.Context()), p, opts)
			restore()
			if err != nil {
				return err
			}
			if opts.Detach {
				return nil
			}
			if code != 0 {
				return exitError{code}
			}
			return nil
		})
	f := cmd.Flags()
	f.SetInterspersed(false)
	f.BoolVarP(&opts.Detach, "detach", "d", false, "run in the background and print the container name")
	f.BoolVar(&opts.Remove, "rm", false, "remove the container when it exits")
	f.StringArrayVarP(&env, "env", "e", nil, "set an environment variable KEY=VALUE (KEY alone: its value here)")
	f.StringVarP(&opts.User, "user", "u", "", "run as this user")
	f.StringVarP(&opts.Workdir, "workdir", "w", "", "working directory inside the container")
	f.StringVar(&entrypoint, "entrypoint", "", "override the entrypoint")
	f.StringVar(&opts.Name, "name", "", "container name")
	f.BoolVar(&opts.NoDeps, "no-deps", false, "don't start linked services")
	f.BoolVar(&opts.ServicePorts, "service-ports", false, "publish the service's ports")
	f.StringArrayVarP(&publish, "publish", "p", nil, "publish a port")
	f.StringArrayVarP(&volumes, "volume", "v", nil, "bind mount a volume")
	f.StringArrayVarP(&labels, "label", "l", nil, "add a label")
	f.BoolVarP(&noTTY, "no-TTY", "T", false, "disable pseudo-TTY allocation (default: auto-detected)")
	f.BoolVarP(&tty, "tty", "t", false, "allocate a pseudo-TTY")
	f.BoolVarP(&opts.Interactive, "interactive", "i", true, "keep stdin open")
	f.BoolVar(&opts.Build, "build", false, "build the image before starting")
	f.StringVar(&pull, "pull", "policy", `pull the image: "always", "missing", "never", "build" or the service's "policy"`)
	return cmd
}

func newExecCommand(g *globalOptions) *cobra.Command {
	var opts project.ExecOptions
	var noTTY, interactive bool
	var env []string
	cmd := projectCommand(g, "exec [OPTIONS] SERVICE COMMAND [ARGS...]", "Run a command in a running container", cobra.MinimumNArgs(2),
		func(cmd *cobra.Command, p *project.Project, e *project.Engine, args []string) error {
			opts.Service, opts.Command = args[0], args[1:]
			var err error
			if opts.Env, err = parseEnv(env, os.LookupEnv); err != nil {
				return err
			}
			opts.Tty = term.IsTerminal(int(os.Stdin.Fd())) && !noTTY && !opts.Detach
			var restore func()
			opts.Stdio, restore = stdio(cmd, interactive && !opts.Detach, opts.Tty)
			if !opts.Tty {
				sigs := make(chan os.Signal, 4)
				signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
				defer signal.Stop(sigs)
				opts.Stdio.Signals = sigs
			}
			code, err := e.Exec(context.WithoutCancel(cmd.Context()), p, opts)
			restore()
			if err != nil {
				return err
			}
			if code != 0 {
				return exitError{code}
			}
			return nil
		})
	f := cmd.Flags()
	f.SetInterspersed(false)
	f.BoolVarP(&opts.Detach, "detach", "d", false, "run the command in the background")
	f.BoolVarP(&noTTY, "no-TTY", "T", false, "disable pseudo-TTY allocation (default: auto-detected)")
	f.BoolVarP(&interactive, "interactive", "i", true, "keep stdin open")
	f.StringArrayVarP(&env, "env", "e", nil, "set an environment variable KEY=VALUE (KEY alone: its value here)")
	f.StringVarP(&opts.User, "user", "u", "", "run as this user")
	f.StringVarP(&opts.Workdir, "workdir", "w", "", "working directory")
	f.IntVar(&opts.Index, "index", 0, "the replica, when a service has several")
	f.BoolVar(&opts.Privileged, "privileged", false, "give the process extended privileges")
	return cmd
}
