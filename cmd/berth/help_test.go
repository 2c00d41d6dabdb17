package main

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// availableCommands are the commands `berth help` shows, below the root.
func availableCommands(root *cobra.Command) []*cobra.Command {
	out := []*cobra.Command{root}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			if sub.IsAvailableCommand() || sub.Name() == "help" {
				out = append(out, sub)
				walk(sub)
			}
		}
	}
	walk(root)
	return out
}

func TestEveryCommandIsInAGroup(t *testing.T) {
	root, _ := newRootCommand()
	var ids []string
	for _, g := range root.Groups() {
		ids = append(ids, g.ID)
	}
	for _, c := range root.Commands() {
		if !c.IsAvailableCommand() && c.Name() != "help" {
			continue
		}
		if !slices.Contains(ids, c.GroupID) {
			t.Errorf("berth %s is in no group of %v: add it to groupOf", c.Name(), ids)
		}
	}
}

func TestEveryCommandHasAnExample(t *testing.T) {
	root, _ := newRootCommand()
	for _, c := range availableCommands(root) {
		if strings.TrimSpace(c.Example) == "" {
			t.Errorf("%s has no Example: add one to examples", c.CommandPath())
		}
	}
}

// Each berth command line of each example parses: its command exists, and
// so do its flags, and its arguments are accepted.
func TestExamplesParse(t *testing.T) {
	root, _ := newRootCommand()
	for _, c := range availableCommands(root) {
		for _, line := range strings.Split(c.Example, "\n") {
			for _, args := range berthInvocations(line) {
				fresh, _ := newRootCommand()
				cmd, rest, err := fresh.Traverse(args)
				if err == nil {
					err = cmd.ParseFlags(rest)
				}
				if err == nil {
					err = cmd.ValidateArgs(cmd.Flags().Args())
				}
				if err != nil {
					t.Errorf("%s's example %q: %v", c.CommandPath(), strings.TrimSpace(line), err)
				}
			}
		}
	}
}

var (
	comment = regexp.MustCompile(`\s+#.*$`)
	subst   = regexp.MustCompile(`\$\((berth [^)]*)\)`)
)

// berthInvocations are the arguments of each berth command on a shell
// line: the line itself, each part of a pipe, and each $(berth ...).
func berthInvocations(line string) [][]string {
	line = comment.ReplaceAllString(strings.TrimSpace(line), "")
	parts := []string{}
	for _, m := range subst.FindAllStringSubmatch(line, -1) {
		parts = append(parts, m[1])
	}
	parts = append(parts, strings.Split(subst.ReplaceAllString(line, "X"), "|")...)
	var out [][]string
	for _, p := range parts {
		p, _, _ = strings.Cut(p, ">")
		words := shellWords(p)
		if len(words) > 0 && words[0] == "berth" {
			out = append(out, words[1:])
		}
	}
	return out
}

// shellWords splits a command line into words, with ” and "" quoting.
func shellWords(s string) []string {
	var words []string
	var w strings.Builder
	in, quote := false, rune(0)
	for _, r := range s {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			w.WriteRune(r)
		case r == '\'' || r == '"':
			quote, in = r, true
		case r == ' ' || r == '\t':
			if in {
				words = append(words, w.String())
				w.Reset()
				in = false
			}
		default:
			w.WriteRune(r)
			in = true
		}
	}
	if in {
		words = append(words, w.String())
	}
	return words
}

func TestBerthInvocations(t *testing.T) {
	got := berthInvocations(`  curl "http://$(berth port web 8080)/" | berth x -a 'b c' > f  # note`)
	want := [][]string{{"port", "web", "8080"}, {"x", "-a", "b c"}}
	if len(got) != len(want) || strings.Join(got[0], ",") != strings.Join(want[0], ",") || strings.Join(got[1], ",") != strings.Join(want[1], ",") {
		t.Errorf("got %q, want %q", got, want)
	}
}
