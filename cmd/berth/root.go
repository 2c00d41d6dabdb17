package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
)

// globalOptions are the flags every command shares, compose-style.
type globalOptions struct {
	Files       []string
	ProjectName string
	ProjectDir  string
	EnvFiles    []string
	Profiles    []string
	Root        string
	State       string
	LogLevel    string
	Progress    string
	Ansi        string

	storageChecked bool
	storageErr     error
}

// commandFactories are the subcommands; each command file registers its
// constructor in an init function, so files can be added without editing
// this one.
var commandFactories []func(*globalOptions) *cobra.Command

func register(f func(*globalOptions) *cobra.Command) {
	commandFactories = append(commandFactories, f)
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// withoutStore are the commands that work without berth's root and state
// directories, and so without root privileges.
var withoutStore = map[string]bool{
	"completion": true, "config": true, "export": true, "help": true, "init": true, "login": true, "logout": true, "version": true,
	cobra.ShellCompRequestCmd: true, cobra.ShellCompNoDescRequestCmd: true,
}

func newRootCommand() (*cobra.Command, *globalOptions) {
	g := &globalOptions{}
	root := &cobra.Command{
		Use:   "berth",
		Short: "Daemonless, Compose-compatible multi-container stacks",
		Long: "berth turns a compose file into a running stack of real containers.\n" +
			"No engine, no daemon: this one binary is the CLI, the runtime and the image store.",
		SilenceUsage:      true,
		SilenceErrors:     true,
		CompletionOptions: cobra.CompletionOptions{HiddenDefaultCmd: false},
	}
	// Global flags come before the command, as in `docker compose -f x up`:
	// the root parses its own flags first (TraverseChildren), so that a
	// command may reuse their letters (`rm -f` is --force).
	root.TraverseChildren = true
	f := root.Flags()
	f.StringArrayVarP(&g.Files, "file", "f", nil, "compose configuration files (env COMPOSE_FILE)")
	f.StringVarP(&g.ProjectName, "project-name", "p", "", "project name (env COMPOSE_PROJECT_NAME)")
	f.StringVar(&g.ProjectDir, "project-directory", "", "working directory of the project (default: the first compose file's directory)")
	f.StringArrayVar(&g.EnvFiles, "env-file", nil, "alternative environment files")
	f.StringArrayVar(&g.Profiles, "profile", nil, "profiles to enable (env COMPOSE_PROFILES)")
	f.StringVar(&g.Root, "root", envOr("BERTH_ROOT", "/var/lib/berth"), "persistent data directory (env BERTH_ROOT)")
	f.StringVar(&g.State, "state", envOr("BERTH_STATE", "/run/berth"), "runtime state directory (env BERTH_STATE)")
	f.StringVar(&g.LogLevel, "log-level", "warn", "log level: debug, info, warn, error, fatal; above warn, berth prints no warnings (it has no debug or info messages)")
	f.StringVar(&g.Progress, "progress", "auto", "progress output: auto, tty, plain, json, quiet")
	f.StringVar(&g.Ansi, "ansi", "auto", "control characters: never, always, auto")
	// Commands that use the store say at once when berth lacks root,
	// before reading the compose file.
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		if !slices.Contains(logLevels, g.LogLevel) {
			return usageError{fmt.Sprintf("--log-level %q: want one of %s", g.LogLevel, strings.Join(logLevels, ", "))}
		}
		top := cmd
		for top.HasParent() && top.Parent() != root {
			top = top.Parent()
		}
		if top == root || withoutStore[top.Name()] {
			return nil
		}
		if err := g.storage(); err != nil {
			return err
		}
		g.reapThrowaways(cmd)
		return nil
	}
	root.SetFlagErrorFunc(flagError)
	root.Args = unknownCommand
	root.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
	for _, mk := range commandFactories {
		root.AddCommand(mk(g))
	}
	arrangeHelp(root)
	usageArgs(root)
	return root, g
}

// usageArgs makes a wrong number of arguments a usage error, as a wrong
// flag is (flagError).
func usageArgs(c *cobra.Command) {
	if check := c.Args; check != nil {
		c.Args = func(cmd *cobra.Command, args []string) error {
			if err := check(cmd, args); err != nil {
				var ue usageError
				if errors.As(err, &ue) {
					return err
				}
				return usageError{fmt.Sprintf("%v\nSee '%s --help'.", err, cmd.CommandPath())}
			}
			return nil
		}
	}
	for _, sub := range c.Commands() {
		usageArgs(sub)
	}
}

// logLevels are the values of --log-level, as docker's, from the most
// said to the least.
var logLevels = []string{"debug", "info", "warn", "error", "fatal"}

// warnings says whether warnings are printed: not when --log-level is
// above warn.
func (g *globalOptions) warnings() bool {
	return slices.Index(logLevels, g.LogLevel) <= slices.Index(logLevels, "warn")
}

// warn prints a warning, unless --log-level is above warn.
func (g *globalOptions) warn(w io.Writer, msg string) {
	if g.warnings() {
		fmt.Fprintln(w, "berth: warning:", msg)
	}
}

func run(args []string) int {
	root, _ := newRootCommand()
	root.SetArgs(args)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := root.ExecuteContext(ctx)
	return exitCode(root.ErrOrStderr(), err)
}
