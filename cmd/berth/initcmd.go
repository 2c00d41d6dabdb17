package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"text/tabwriter"

	"github.com/berthdev/berth/project"
	"github.com/spf13/cobra"
)

func init() { register(newInitCommand) }

// Reached only as the user's `berth init`: libcontainer's re-executed
// container init, which also sees os.Args[1] == "init", is taken over by
// internal/reexec before the CLI starts.
func newInitCommand(g *globalOptions) *cobra.Command {
	var name string
	var list, force bool
	cmd := &cobra.Command{
		Use:   "init [--template NAME] [DIR]",
		Short: "Write a starter project into DIR (default: the current directory)",
		Long: `Write a starter project into DIR: a compose.yaml with develop.watch rules and
a test service, a Dockerfile, a .dockerignore, and a minimal application with
its test. Files that exist are never overwritten unless --force is given.`,
		Example: `  berth init --list
  berth init --template go shop      # a Go service in ./shop
  cd shop && berth up -d --build
  berth init --template python --force .`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			out := cmd.OutOrStdout()
			if list {
				tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
				for _, s := range project.Starters() {
					def := ""
					if s.Name == project.DefaultStarter {
						def = " (default)"
					}
					fmt.Fprintf(tw, "%s\t%s%s\n", s.Name, s.Description, def)
				}
				return tw.Flush()
			}
			dir := "."
			if len(args) == 1 {
				dir = args[0]
			}
			abs, err := filepath.Abs(dir)
			if err != nil {
				return err
			}
			written, err := project.Init(abs, project.InitOptions{Template: name, Name: g.ProjectName, Force: force})
			if errors.Is(err, project.ErrStarterExists) {
				return fmt.Errorf("%w\nnothing was written: pass --force to overwrite them", err)
			}
			if err != nil {
				return err
			}
			for _, f := range written {
				if rel, err := filepath.Rel(abs, f); err == nil {
					f = rel
				}
				fmt.Fprintln(out, "wrote", filepath.Join(dir, f))
			}
			fmt.Fprintf(out, "\nNext:\n")
			if dir != "." {
				fmt.Fprintf(out, "  cd %s\n", dir)
			}
			fmt.Fprint(out, `  berth up -d --build    # build the image and start the app
  berth watch            # keep the running app in step with your edits (develop.watch)
  berth test tests       # run the tests in a throwaway stack
  berth down
`)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&name, "template", "t", project.DefaultStarter, "the starter to write (see --list)")
	f.BoolVar(&list, "list", false, "list the starters")
	f.BoolVar(&force, "force", false, "overwrite files that exist")
	return cmd
}
