package main

import (
	"fmt"

	"github.com/berthdev/berth/project"
	"github.com/spf13/cobra"
)

func init() { register(newExportCommand) }

func newExportCommand(g *globalOptions) *cobra.Command {
	export := &cobra.Command{
		Use:   "export",
		Short: "Write the project for another platform",
		Args:  cobra.NoArgs,
	}
	export.AddCommand(newExportKubernetesCommand(g))
	return export
}

func newExportKubernetesCommand(g *globalOptions) *cobra.Command {
	var opts project.KubernetesOptions
	var output string
	cmd := &cobra.Command{
		Use:     "kubernetes [SERVICE...]",
		Aliases: []string{"k8s"},
		Short:   "Write Kubernetes manifests for the project",
		Long: "Write Deployments, StatefulSets, Jobs, Services, PersistentVolumeClaims, ConfigMaps\n" +
			"and Secrets for the services (all when none are named) and their dependencies,\n" +
			"as one YAML stream on standard output or one file per object in -o DIR.\n" +
			"What compose says that Kubernetes cannot express is printed as a warning\n" +
			"(an error with --strict). Without --push, berth's store is not needed.",
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Push && opts.Registry == "" {
				return usageError{"--push needs --registry: the registry the cluster pulls berth's images from"}
			}
			p, err := loadProject(cmd, g, args)
			if err != nil {
				return err
			}
			var e *project.Engine
			if opts.Push {
				if e, err = openEngine(g); err != nil {
					return err
				}
				if opts.Events, err = events(cmd, g); err != nil {
					return err
				}
			}
			opts.Services = args
			x, err := project.ExportKubernetes(cmd.Context(), p, e, opts)
			if err != nil {
				return err
			}
			stderr := cmd.ErrOrStderr()
			for _, n := range x.Notes {
				fmt.Fprintln(stderr, "berth: note:", n)
			}
			for _, w := range x.Warnings {
				fmt.Fprintln(stderr, "berth: warning:", w)
			}
			if output == "" {
				return x.WriteStream(cmd.OutOrStdout())
			}
			files, err := x.WriteDir(output)
			if err != nil {
				return err
			}
			fmt.Fprintf(stderr, "berth: wrote %d manifests to %s\n", len(files), output)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&output, "output", "o", "", "write one file per object to DIR instead of a stream to standard output")
	f.StringVar(&opts.Registry, "registry", "", "registry for the images berth builds, as the cluster pulls them (host[:port][/path])")
	f.BoolVar(&opts.Push, "push", false, "build and push the images berth builds to --registry first")
	f.BoolVar(&opts.Strict, "strict", false, "fail when compose says what Kubernetes cannot express")
	f.StringVar(&opts.ServiceType, "service-type", project.KubeNodePort, "Service type of published ports: NodePort or LoadBalancer")
	f.StringVar(&opts.VolumeSize, "volume-size", project.KubeDefaultVolumeSize, "size of a volume's claim without "+project.KubeSizeExtension)
	f.StringVar(&opts.WaitImage, "wait-image", project.KubeDefaultWaitImage, "image whose entrypoint is kubectl, for the init containers that wait for a dependency")
	return cmd
}
