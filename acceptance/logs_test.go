package acceptance

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/busybox"
)

// A chatty container's log rotates at the compose file's max-size, keeps
// max-file files in all, and logs reads across them: the newest lines,
// in order, each once.
func TestLogRotatesAtMaxSizeAndKeepsMaxFiles(t *testing.T) {
	e := newEnv(t)
	e.importBusybox("bb", busybox.Options{})
	e.writeFile("compose.yaml", `
services:
  chatty:
    image: bb
    network_mode: none
    command: ["sh", "-c", "i=1; while [ $$i -le 400 ]; do echo line $$i; i=$$((i+1)); done; echo done; sleep 1000"]
    logging:
      driver: json-file
      options:
        max-size: 2k
        max-file: "3"
`)
	e.must("up", "-d")
	e.eventually(20*time.Second, "the last line", func() bool {
		return strings.Contains(e.must("logs", "--no-color", "--no-log-prefix"), "done")
	})
	rows := e.ps()
	if len(rows) != 1 {
		t.Fatalf("ps: %+v", rows)
	}
	dir := filepath.Join(e.Root, "containers", rows[0].ID)
	for _, name := range []string{"container.log", "container.log.1", "container.log.2"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		// A file rotates once a record takes it past the limit.
		if fi.Size() > 2048+200 {
			t.Errorf("%s is %d bytes, over max-size", name, fi.Size())
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "container.log.3")); err == nil {
		t.Error("more files kept than max-file")
	}
	lines := strings.Split(strings.TrimSpace(e.must("logs", "--no-color", "--no-log-prefix")), "\n")
	if lines[len(lines)-1] != "done" || lines[len(lines)-2] != "line 400" {
		t.Fatalf("logs end with %q", lines[max(0, len(lines)-3):])
	}
	// The oldest lines are gone; what is left runs on without a gap.
	var first int
	if _, err := fmt.Sscanf(lines[0], "line %d", &first); err != nil || first <= 1 {
		t.Fatalf("logs start with %q: nothing rotated away", lines[0])
	}
	for i, l := range lines[:len(lines)-1] {
		if want := fmt.Sprintf("line %d", first+i); l != want {
			t.Fatalf("logs line %d is %q, want %q", i, l, want)
		}
	}
	if tail := e.must("logs", "--no-color", "--no-log-prefix", "--tail", "2"); tail != "line 400\ndone\n" {
		t.Errorf("logs --tail 2: %q", tail)
	}
	e.must("down", "-t", "1")
}
