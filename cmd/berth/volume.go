package main

import (
	"errors"
	"fmt"
	"text/tabwriter"

	"github.com/berthdev/berth/project"
	"github.com/berthdev/berth/volumes"
	"github.com/spf13/cobra"
)

func init() { register(newVolumeCommand) }

func openVolumes(g *globalOptions) (*volumes.Store, error) {
	if err := g.storage(); err != nil {
		return nil, err
	}
	return project.OpenVolumes(g.Root, g.State)
}

func newVolumeCommand(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{Use: "volume", Short: "Manage volumes"}
	var format string
	var quiet bool
	ls := &cobra.Command{
		Use:   "ls",
		Short: "List volumes",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(format, "table", "json"); err != nil {
				return err
			}
			s, err := openVolumes(g)
			if err != nil {
				return err
			}
			vs, err := s.List(cmd.Context())
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if quiet {
				for _, v := range vs {
					fmt.Fprintln(out, v.Name)
				}
				return nil
			}
			if format == "json" {
				if vs == nil {
					vs = []*volumes.Volume{}
				}
				return writeJSON(out, vs)
			}
			tw := tabwriter.NewWriter(out, 0, 4, 3, ' ', 0)
			fmt.Fprintln(tw, "DRIVER\tVOLUME NAME")
			for _, v := range vs {
				fmt.Fprintf(tw, "%s\t%s\n", v.Driver, v.Name)
			}
			return tw.Flush()
		},
	}
	ls.Flags().StringVar(&format, "format", "table", "table or json")
	ls.Flags().BoolVarP(&quiet, "quiet", "q", false, "only names")

	var inspectFormat string
	inspect := &cobra.Command{
		Use:   "inspect VOLUME...",
		Short: "Show volumes as JSON",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(inspectFormat, "json"); err != nil {
				return err
			}
			s, err := openVolumes(g)
			if err != nil {
				return err
			}
			var out []*volumes.Volume
			for _, a := range args {
				v, err := s.Get(cmd.Context(), a)
				if err != nil {
					return err
				}
				out = append(out, v)
			}
			return writeJSON(cmd.OutOrStdout(), out)
		},
	}
	inspect.Flags().StringVar(&inspectFormat, "format", "json", "json (the only format)")

	var labels, opts []string
	var driver string
	create := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a volume",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := openVolumes(g)
			if err != nil {
				return err
			}
			lm, err := parseLabels("--label", labels)
			if err != nil {
				return err
			}
			om, err := parseLabels("--opt", opts)
			if err != nil {
				return err
			}
			co := volumes.CreateOptions{Driver: driver, Labels: lm, Options: om}
			if len(co.Options) == 0 {
				co.Options = nil
			}
			if _, _, err := s.Create(cmd.Context(), args[0], co); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), args[0])
			return nil
		},
	}
	create.Flags().StringVarP(&driver, "driver", "d", "local", "volume driver (local)")
	create.Flags().StringArrayVar(&labels, "label", nil, "set a label KEY=VALUE")
	create.Flags().StringArrayVarP(&opts, "opt", "o", nil, "driver option KEY=VALUE (type, o, device)")

	var force bool
	rm := &cobra.Command{
		Use:     "rm VOLUME...",
		Aliases: []string{"remove"},
		Short:   "Remove volumes and their data",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := openVolumes(g)
			if err != nil {
				return err
			}
			var errs []error
			for _, a := range args {
				if err := s.Remove(cmd.Context(), a, false); err != nil {
					if force && errors.Is(err, volumes.ErrNotFound) {
						continue
					}
					errs = append(errs, err)
					continue
				}
				fmt.Fprintln(cmd.OutOrStdout(), a)
			}
			return errors.Join(errs...)
		},
	}
	rm.Flags().BoolVarP(&force, "force", "f", false, "don't fail on volumes that do not exist")

	var all, yes bool
	prune := &cobra.Command{
		Use:   "prune",
		Short: "Remove unused anonymous volumes (with -a, every unused volume)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := openVolumes(g)
			if err != nil {
				return err
			}
			names, err := s.Prune(cmd.Context(), all)
			for _, n := range names {
				fmt.Fprintln(cmd.OutOrStdout(), "Deleted:", n)
			}
			return err
		},
	}
	prune.Flags().BoolVarP(&all, "all", "a", false, "remove unused named volumes too")
	prune.Flags().BoolVarP(&yes, "force", "f", false, "don't prompt for confirmation (berth volume prune never prompts)")
	cmd.AddCommand(ls, inspect, create, rm, prune)
	return cmd
}
