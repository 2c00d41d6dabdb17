package main

import (
	"fmt"

	"github.com/berthdev/berth/project"
	"github.com/spf13/cobra"
)

func init() { register(newPortCommand) }

func newPortCommand(g *globalOptions) *cobra.Command {
	var opts project.PortOptions
	cmd := projectCommand(g, "port SERVICE PRIVATE_PORT", "Print the public port of a port binding", cobra.ExactArgs(2),
		func(cmd *cobra.Command, p *project.Project, e *project.Engine, args []string) error {
			private, err := parsePrivatePort(args[1], opts.Protocol)
			if err != nil {
				return err
			}
			addr, err := e.Port(cmd.Context(), p, args[0], private, opts)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), addr)
			return nil
		})
	cmd.Flags().StringVar(&opts.Protocol, "protocol", "tcp", "tcp or udp")
	cmd.Flags().IntVar(&opts.Index, "index", 0, "the replica, when a service has several")
	return cmd
}
