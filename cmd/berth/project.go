package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/berthdev/berth/project"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/spf13/cobra"
)

// loadProject reads the compose project the global flags point at. args
// are the command's arguments, of which the services it names are enabled
// even when their profile is not.
func loadProject(cmd *cobra.Command, g *globalOptions, args []string) (*project.Project, error) {
	wd, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	stderr := cmd.ErrOrStderr()
	p, err := project.Load(cmd.Context(), project.LoadOptions{
		Files: g.Files, ProjectName: g.ProjectName, ProjectDir: g.ProjectDir,
		EnvFiles: g.EnvFiles, Profiles: splitProfiles(g.Profiles), WorkingDir: wd, Stdin: cmd.InOrStdin(),
		Services: targetedServices(cmd, args),
		Warn:     func(msg string) { g.warn(stderr, msg) },
		// `config` always validates in full; the verbs that act on a
		// project skip what an unchanged input already passed.
		CacheDir: filepath.Join(g.State, "compose-valid"),
	})
	name := g.ProjectName
	if name == "" {
		name = os.Getenv("COMPOSE_PROJECT_NAME")
	}
	if errors.Is(err, project.ErrNoComposeFile) && name != "" && len(g.Files) == 0 {
		// As with docker compose, `-p NAME down|ps|logs|stop|rm` work on
		// what exists of a project without its compose file.
		return &project.Project{Name: name, Services: types.Services{}}, nil
	}
	return p, err
}

// targetedServices are the services a command's arguments name: the first
// argument of run, exec, port and test (the rest is a command or a port), the
// service part of cp's SERVICE:PATH, every argument of the other verbs.
func targetedServices(cmd *cobra.Command, args []string) []string {
	switch cmd.Name() {
	case "run", "exec", "port", "test":
		if len(args) > 0 {
			return args[:1]
		}
		return nil
	case "cp":
		var out []string
		for _, a := range args {
			if s, _, ok := strings.Cut(a, ":"); ok && s != "" {
				out = append(out, s)
			}
		}
		return out
	}
	return args
}

func splitProfiles(ps []string) []string {
	var out []string
	for _, p := range ps {
		out = append(out, strings.Split(p, ",")...)
	}
	return out
}

// openEngine opens berth's root for the project verbs.
func openEngine(g *globalOptions) (*project.Engine, error) {
	if err := g.storage(); err != nil {
		return nil, err
	}
	return project.NewEngine(g.Root, g.State)
}

// events returns the progress printer of a command as project events.
func events(cmd *cobra.Command, g *globalOptions) (project.Events, error) {
	p, err := newProgress(cmd.ErrOrStderr(), g.Progress, g.Ansi)
	if err != nil {
		return nil, err
	}
	return p.Event, nil
}

// timeoutFlag is -t/--timeout in whole seconds; nil when not given. A
// negative or zero timeout kills at once.
type timeoutFlag struct {
	secs int
	set  bool
}

func (t *timeoutFlag) String() string { return strconv.Itoa(t.secs) }

func (t *timeoutFlag) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil {
		return fmt.Errorf("%q is not a number of seconds", s)
	}
	t.secs, t.set = n, true
	return nil
}

func (t *timeoutFlag) Type() string { return "int" }

func (t *timeoutFlag) duration() *time.Duration {
	if !t.set {
		return nil
	}
	d := time.Duration(t.secs) * time.Second
	return &d
}

func addTimeout(cmd *cobra.Command, t *timeoutFlag) {
	cmd.Flags().VarP(t, "timeout", "t", "seconds to wait for each container to stop before killing it")
}

// projectCommand is a verb that loads the project and opens the engine.
func projectCommand(g *globalOptions, use, short string, args cobra.PositionalArgs,
	run func(cmd *cobra.Command, p *project.Project, e *project.Engine, args []string) error) *cobra.Command {
	return &cobra.Command{
		Use:   use,
		Short: short,
		Args:  args,
		RunE: func(cmd *cobra.Command, args []string) error {
			return withProject(cmd, g, args, run)
		},
	}
}

// withProject loads the project and opens the engine, then runs run.
func withProject(cmd *cobra.Command, g *globalOptions, args []string,
	run func(cmd *cobra.Command, p *project.Project, e *project.Engine, args []string) error) error {
	p, err := loadProject(cmd, g, args)
	if err != nil {
		return err
	}
	e, err := openEngine(g)
	if err != nil {
		return err
	}
	// What the builder prints when a verb builds an image on its way
	// goes to stderr, unless --progress quiet.
	if g.Progress != "quiet" {
		e.BuildOutput = cmd.ErrOrStderr()
	}
	return run(cmd, p, e, args)
}
