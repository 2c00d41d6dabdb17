package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/berthdev/berth/project"
)

func TestExitCode(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		code int
		says string // what stderr must hold; "" for nothing
	}{
		{"success", nil, 0, ""},
		{"failure", errors.New("creating container p-web-1: no space left on device"), 1, "berth: creating container p-web-1: no space left on device"},
		{"a container's code", exitError{7}, 7, ""},
		{"up --exit-code-from", fmt.Errorf("up: %w", &project.ExitError{Service: "tests", Code: 4}), 4, ""},
		{"Ctrl-C", context.Canceled, 130, ""},
		{"Ctrl-C during a verb", fmt.Errorf("service %q: pulling: %w", "db", context.Canceled), 130, `berth: service "db": pulling: context canceled`},
		{"a flag", usageError{"unknown flag: --bogus"}, 2, "berth: unknown flag: --bogus"},
		{"an unknown service", fmt.Errorf("%w: %q (the project has [db web])", project.ErrNoService, "wbe"), 2, `no such service: "wbe"`},
		{"an unknown starter", fmt.Errorf("%w: cobol", project.ErrNoStarter), 2, "no such starter"},
		{"cp without a service", project.ErrCopyPaths, 2, "SERVICE:PATH"},
		{"a deadline is no Ctrl-C", context.DeadlineExceeded, 1, "deadline"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stderr bytes.Buffer
			if code := exitCode(&stderr, tc.err); code != tc.code {
				t.Errorf("exit code %d, want %d", code, tc.code)
			}
			if tc.says == "" && stderr.Len() > 0 {
				t.Errorf("printed %q, want nothing", stderr.String())
			}
			if !strings.Contains(stderr.String(), tc.says) {
				t.Errorf("printed %q, want %q in it", stderr.String(), tc.says)
			}
		})
	}
}

// TestUsageExitCodes runs the command line through cobra: a wrong flag, a
// wrong number of arguments, an unknown command or a bad --log-level is a
// usage error, exit 2, before anything touches the store.
func TestUsageExitCodes(t *testing.T) {
	for _, args := range [][]string{
		{"up", "--bogus"},
		{"bogus"},
		{"port", "web"},
		{"cp", "a"},
		{"--log-level", "loud", "version"},
		{"ps", "-t", "5s"},
		{"stop", "-t", "soon"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			root, _ := newRootCommand()
			var out bytes.Buffer
			root.SetArgs(args)
			root.SetOut(&out)
			root.SetErr(&out)
			if code := exitCode(&out, root.ExecuteContext(context.Background())); code != exitUsage {
				t.Errorf("exit %d, want %d: %s", code, exitUsage, out.String())
			}
		})
	}
}
