package main

import (
	"fmt"
	"os"
	"sort"

	"github.com/berthdev/berth/project"
	"github.com/spf13/cobra"
)

func init() { register(newConfigCommand) }

func newConfigCommand(g *globalOptions) *cobra.Command {
	var services, volumes, profiles, images, networks, quiet, noInterpolate bool
	var format, output, hash string
	cmd := &cobra.Command{
		Use:   "config [SERVICE...]",
		Short: "Validate and print the compose model, as berth reads it",
		Args:  cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			wd, _ := os.Getwd()
			p, err := project.Load(cmd.Context(), project.LoadOptions{
				Files: g.Files, ProjectName: g.ProjectName, ProjectDir: g.ProjectDir, EnvFiles: g.EnvFiles,
				Profiles: splitProfiles(g.Profiles), WorkingDir: wd, Stdin: cmd.InOrStdin(), NoInterpolate: noInterpolate,
			})
			if err != nil {
				return err
			}
			if len(args) > 0 {
				if p, err = p.WithSelectedServices(args); err != nil {
					return err
				}
			}
			out := cmd.OutOrStdout()
			if output != "" {
				f, err := os.Create(output)
				if err != nil {
					return err
				}
				defer f.Close()
				out = f
			}
			lines := func(list []string) error {
				sort.Strings(list)
				for _, s := range list {
					fmt.Fprintln(out, s)
				}
				return nil
			}
			switch {
			case quiet:
				return nil
			case services:
				return lines(p.ServiceNames())
			case volumes:
				return lines(p.VolumeNames())
			case networks:
				return lines(p.NetworkNames())
			case profiles:
				seen := map[string]bool{}
				var all []string
				for _, s := range p.AllServices() {
					for _, pr := range s.Profiles {
						if !seen[pr] {
							seen[pr] = true
							all = append(all, pr)
						}
					}
				}
				return lines(all)
			case images:
				var list []string
				for _, s := range p.Services {
					list = append(list, project.ImageName(p, s))
				}
				return lines(list)
			case hash != "":
				names := p.ServiceNames()
				if hash != "*" {
					names = []string{hash}
				}
				sort.Strings(names)
				for _, n := range names {
					s, ok := p.Services[n]
					if !ok {
						return fmt.Errorf("--hash: %w: %q (the project has %v)", project.ErrNoService, n, p.ServiceNames())
					}
					h, err := project.ConfigHash(s)
					if err != nil {
						return err
					}
					fmt.Fprintf(out, "%s %s\n", n, h)
				}
				return nil
			}
			var b []byte
			switch format {
			case "yaml", "":
				b, err = p.MarshalYAML()
			case "json":
				b, err = p.MarshalJSON()
			default:
				return usageError{fmt.Sprintf("--format %q: want yaml or json", format)}
			}
			if err != nil {
				return err
			}
			_, err = out.Write(b)
			return err
		},
	}
	f := cmd.Flags()
	f.BoolVar(&services, "services", false, "print the service names")
	f.BoolVar(&volumes, "volumes", false, "print the volume names")
	f.BoolVar(&networks, "networks", false, "print the network names")
	f.BoolVar(&profiles, "profiles", false, "print the profile names")
	f.BoolVar(&images, "images", false, "print the image names")
	f.BoolVarP(&quiet, "quiet", "q", false, "only validate")
	f.BoolVar(&noInterpolate, "no-interpolate", false, "don't interpolate environment variables")
	f.StringVar(&format, "format", "yaml", "yaml or json")
	f.StringVarP(&output, "output", "o", "", "write to FILE")
	f.StringVar(&hash, "hash", "", `print the config hash of a service ("*" for all)`)
	return cmd
}
