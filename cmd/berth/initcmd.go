package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/berthdev/berth/templates"
	"github.com/spf13/cobra"
)

func init() { register(newInitCommand) }

func newInitCommand(g *globalOptions) *cobra.Command {
	var kind, image string
	cmd := &cobra.Command{
		Use:   "init [DIR]",
		Short: "Write a starter compose project into DIR (default: the current directory)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := "."
			if len(args) == 1 {
				dir = args[0]
			}
			abs, err := filepath.Abs(dir)
			if err != nil {
				return err
			}
			name := g.ProjectName
			if name == "" {
				name = strings.ToLower(filepath.Base(abs))
				name = regexp.MustCompile(`[^a-z0-9_-]`).ReplaceAllString(name, "")
			}
			if err := os.MkdirAll(abs, 0o755); err != nil {
				return err
			}
			files, err := templates.WriteStarter(abs, kind, templates.StarterOptions{Name: name, Image: image})
			if err != nil {
				return err
			}
			for _, f := range files {
				fmt.Fprintln(cmd.OutOrStdout(), "wrote", f)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "next: cd %s && berth up -d\n", dir)
			return nil
		},
	}
	cmd.Flags().StringVar(&kind, "template", "basic", fmt.Sprintf("starter project (%s)", strings.Join(templates.Starters(), ", ")))
	cmd.Flags().StringVar(&image, "image", "busybox:latest", "image the starter services run")
	return cmd
}
