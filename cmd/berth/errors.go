package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/berthdev/berth/project"
	"github.com/spf13/cobra"
)

// exitError carries a process exit status through cobra without a message:
// a container's command failed and its own output already said why.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// usageError is a mistake in the command line.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func flagError(cmd *cobra.Command, err error) error {
	return usageError{fmt.Sprintf("%v\nSee '%s --help'.", err, cmd.CommandPath())}
}

// unknownCommand is the root command's argument check: anything that
// reaches it is not a command berth knows.
func unknownCommand(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	msg := fmt.Sprintf("unknown command %q", args[0])
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		msg += fmt.Sprintf("; did you mean %q?", s[0])
	}
	return usageError{msg + "\nSee 'berth --help' for the list of commands."}
}

// exitCode is the one place that turns an error into a message and an exit
// code: 0 success, 1 failure, 2 usage, or the container's own status.
func exitCode(stderr io.Writer, err error) int {
	if err == nil {
		return 0
	}
	var ee exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	var pe *project.ExitError
	if errors.As(err, &pe) {
		return pe.Code
	}
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintln(stderr, "berth:", ue.msg)
		return 2
	}
	fmt.Fprintln(stderr, "berth:", err)
	return 1
}
