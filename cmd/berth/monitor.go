package main

import (
	"os"

	"github.com/berthdev/berth/runtime"
	"github.com/spf13/cobra"
)

func init() { register(newMonitorCommand) }

// newMonitorCommand is the hidden command a container's monitor runs as;
// runtime.Start executes it, never a user. It takes --root and --state
// after its name, as the runtime passes them.
func newMonitorCommand(g *globalOptions) *cobra.Command {
	var root, state string
	cmd := &cobra.Command{
		Use:    runtime.MonitorCommand + " ID",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ready := os.NewFile(3, "ready")
			return runtime.RunMonitor(root, state, args[0], ready)
		},
	}
	cmd.Flags().StringVar(&root, "root", "", "berth root")
	cmd.Flags().StringVar(&state, "state", "", "berth state")
	return cmd
}
