package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/berthdev/berth/project"
	"github.com/spf13/cobra"
)

// Exit codes, as docker compose's: what is not one of these is a
// container's own exit code, passed through.
const (
	exitOK       = 0
	exitFailure  = 1
	exitUsage    = 2   // a mistake in the command line
	exitCanceled = 130 // 128 + SIGINT: Ctrl-C (or SIGTERM) ended the command
)

// exitError carries a process exit status through cobra without a message:
// a container's command failed and its own output already said why.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// usageError is a mistake in the command line.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// usageErrors are the errors of project that come from what the command
// line named: a service the project does not have, a starter berth init
// does not know, a copy without SERVICE:PATH.
var usageErrors = []error{project.ErrNoService, project.ErrNoStarter, project.ErrCopyPaths}

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
// code, by what the error is, never by its text: 0 success, a container's
// own status where a verb passes it on, 130 for a command that Ctrl-C
// cancelled, 2 for a mistake in the command line, 1 for any other failure.
func exitCode(stderr io.Writer, err error) int {
	if err == nil {
		return exitOK
	}
	var ee exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	var pe *project.ExitError
	if errors.As(err, &pe) {
		return pe.Code
	}
	if errors.Is(err, context.Canceled) {
		// The user asked for it: only say more than that it stopped
		// when the error does.
		if err != context.Canceled {
			fmt.Fprintln(stderr, "berth:", err)
		}
		return exitCanceled
	}
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintln(stderr, "berth:", ue.msg)
		return exitUsage
	}
	fmt.Fprintln(stderr, "berth:", err)
	for _, u := range usageErrors {
		if errors.Is(err, u) {
			return exitUsage
		}
	}
	return exitFailure
}
