package main

import (
	"os"

	"github.com/berthdev/berth/runtime"
	"github.com/spf13/cobra"
)

func init() { register(newMonitorCommand) }

// newMonitorCommand is the hidden command a container's monitor runs as;
// runtime.Start executes it, never a user.
func newMonitorCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:    runtime.MonitorCommand + " ID",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ready := os.NewFile(3, "ready")
			return runtime.RunMonitor(g.Root, g.State, args[0], ready)
		},
	}
}
