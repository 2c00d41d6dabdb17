package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version is set by the Makefile with -ldflags.
var version = "dev"

func init() { register(newVersionCommand) }

func newVersionCommand(*globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Show the berth version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rc := "unknown"
			if bi, ok := debug.ReadBuildInfo(); ok {
				for _, d := range bi.Deps {
					if d.Path == "github.com/opencontainers/runc" {
						rc = d.Version
					}
				}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "berth %s (%s, libcontainer %s, %s/%s)\n", version, runtime.Version(), rc, runtime.GOOS, runtime.GOARCH)
			return nil
		},
	}
}
