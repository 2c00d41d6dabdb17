package acceptance

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// tourBlock is one ```sh block of the README's five-minute tour.
type tourBlock struct {
	line  int // of the README, where the block starts
	lines []string
}

// tourBlocks reads the shell blocks of the README section named heading.
func tourBlocks(t *testing.T, readme, heading string) []tourBlock {
	t.Helper()
	f, err := os.Open(readme)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var blocks []tourBlock
	var in, inBlock bool
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		n++
		l := sc.Text()
		switch {
		case strings.HasPrefix(l, "## "):
			in = l == "## "+heading
		case in && !inBlock && l == "```sh":
			inBlock = true
			blocks = append(blocks, tourBlock{line: n})
		case in && inBlock && l == "```":
			inBlock = false
		case in && inBlock && strings.TrimSpace(l) != "":
			b := &blocks[len(blocks)-1]
			b.lines = append(b.lines, l)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(blocks) == 0 {
		t.Fatalf("no ```sh block in the section %q of %s", heading, readme)
	}
	return blocks
}

var (
	shellComment = regexp.MustCompile(`\s+#.*$`)
	berthVerb    = regexp.MustCompile(`(?:^|[\s;&|(])berth\s+([a-z][a-z-]*)`)
)

// verbs are the berth commands a block runs.
func (b tourBlock) verbs() []string {
	var out []string
	for _, l := range b.lines {
		for _, m := range berthVerb.FindAllStringSubmatch(shellComment.ReplaceAllString(l, ""), -1) {
			out = append(out, m[1])
		}
	}
	return out
}

// hasVerb reports whether the binary has the command verb.
func hasVerb(verb string) bool {
	// An unknown verb's --help is the root command's help.
	out, err := exec.Command(binary, verb, "--help").Output()
	return err == nil && strings.Contains(string(out), "\n  berth "+verb+" ")
}

// The README's five-minute tour, run as written, block after block in one
// shell, from a copy of the samples: a step that fails fails the test, so
// the README and berth cannot drift apart. Outside CI, a block that needs
// a command this berth does not have yet is left out and logged; in CI
// none is.
func TestReadmeTour(t *testing.T) {
	e := newEnv(t)
	top := e.Dir
	copyTree(t, "../samples", filepath.Join(top, "samples"))
	// What the tour leaves behind is taken down from there.
	e.Dir = filepath.Join(top, "samples", "quickstart")
	bin := t.TempDir()
	if err := os.Symlink(binary, filepath.Join(bin, "berth")); err != nil {
		t.Fatal(err)
	}

	var script strings.Builder
	script.WriteString("set -eo pipefail\ntrap 'echo \"README.md:$step: the tour failed at: $cmd\" >&2' ERR\n")
	ran := 0
	for _, b := range blocks(t) {
		var missing []string
		for _, v := range b.verbs() {
			if !hasVerb(v) {
				missing = append(missing, v)
			}
		}
		if len(missing) > 0 {
			if os.Getenv("CI") != "" {
				t.Fatalf("README.md:%d: the tour runs berth %s, which this berth does not have", b.line, strings.Join(missing, ", "))
			}
			t.Logf("README.md:%d: left out, berth has no %s yet", b.line, strings.Join(missing, ", "))
			continue
		}
		for i, l := range b.lines {
			fmt.Fprintf(&script, "step=%d cmd=%s\n%s\n", b.line+1+i, shellQuote(l), l)
		}
		ran++
	}
	if ran == 0 {
		t.Fatal("no block of the tour ran")
	}

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", script.String())
	cmd.Dir = top
	cmd.Env = append(e.scriptEnv(), "PATH="+bin+":"+os.Getenv("PATH"))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("the README's tour: %v\n%s", err, out.String())
	}
	t.Logf("the README's tour:\n%s", out.String())
	if rows := e.ps(); len(rows) != 0 {
		t.Errorf("containers left after the tour's last step: %+v", rows)
	}
}

func blocks(t *testing.T) []tourBlock {
	return tourBlocks(t, "../README.md", "Five-minute tour")
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
