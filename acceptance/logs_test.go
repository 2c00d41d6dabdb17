package acceptance

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
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

// Regression: `logs -f` reopened container.log by name every 100 ms and
// took a smaller file for a rotated one, so it skipped the unread tail of
// every file rotated away and the head of the next (188k-230k of 300k
// lines lost), and it stopped with the container before reading to the
// end. Now it reads each file through its descriptor to its end, even
// once rotation has deleted it, and reads everything before it exits.
func TestLogsFollowGetsEveryLineAcrossRotation(t *testing.T) {
	const total = 300000
	e := newEnv(t)
	e.importBusybox("bb", busybox.Options{})
	gate := filepath.Join(e.Dir, "gate")
	os.MkdirAll(gate, 0o755)
	if err := syscall.Mkfifo(filepath.Join(gate, "go"), 0o600); err != nil {
		t.Fatal(err)
	}
	// The flood waits at the gate until the follower has seen "ready".
	e.writeFile("compose.yaml", fmt.Sprintf(`
services:
  flood:
    image: bb
    network_mode: none
    volumes: ["./gate:/gate"]
    command: ["sh", "-c", "echo ready; read x < /gate/go; seq 1 %d"]
    logging:
      options:
        max-size: 1m
        max-file: "3"
`, total))
	e.must("up", "-d")

	cmd := exec.Command(binary, "--root", e.Root, "--state", e.State, "logs", "-f", "--no-color", "--no-log-prefix")
	cmd.Dir = e.Dir
	cmd.Env = append(os.Environ(), "COMPOSE_PROJECT_NAME="+e.Project)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	var lines []string
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines = append(lines, sc.Text())
			if len(lines) == 1 {
				close(ready)
			}
		}
		exited <- cmd.Wait()
	}()
	select {
	case <-ready:
	case <-time.After(time.Minute):
		cmd.Process.Kill()
		t.Fatal("logs -f showed nothing")
	}
	// Open the gate: the writer end opens once the container reads.
	var fifo *os.File
	e.eventually(30*time.Second, "the container at the gate", func() bool {
		fifo, err = os.OpenFile(filepath.Join(gate, "go"), os.O_WRONLY|syscall.O_NONBLOCK, 0)
		return err == nil
	})
	fifo.WriteString("go\n")
	fifo.Close()

	// logs -f ends by itself once the container has exited.
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("logs -f: %v\n%s", err, stderr.String())
		}
	case <-time.After(3 * time.Minute):
		cmd.Process.Kill()
		<-exited
		t.Fatalf("logs -f still running after the container exited (%d lines so far)", len(lines))
	}
	if len(lines) == 0 || lines[0] != "ready" {
		t.Fatalf("logs -f began with %q", lines[:min(len(lines), 3)])
	}
	got := lines[1:]
	var missing, wrong int
	next := 1
	for _, l := range got {
		n, err := strconv.Atoi(l)
		switch {
		case err != nil || n < next:
			wrong++ // a repeat, a line out of order, or garbage
		case n > next:
			missing += n - next
			next = n + 1
		default:
			next++
		}
	}
	missing += total + 1 - next
	if missing > 0 || wrong > 0 || len(got) != total {
		t.Errorf("logs -f passed on %d lines for %d: %d missing, %d repeated or out of order", len(got), total, missing, wrong)
	}

	// The log did rotate, and dropped what max-file did not keep: the
	// follower read files deleted under it.
	rows := e.ps()
	if len(rows) != 1 {
		t.Fatalf("ps: %+v", rows)
	}
	if _, err := os.Stat(filepath.Join(e.Root, "containers", rows[0].ID, "container.log.2")); err != nil {
		t.Errorf("the log never rotated twice: %v", err)
	}
	kept := strings.Split(strings.TrimSpace(e.must("logs", "--no-color", "--no-log-prefix")), "\n")
	if kept[0] == "ready" || kept[len(kept)-1] != strconv.Itoa(total) {
		t.Errorf("logs kept %d lines from %q to %q: nothing rotated away", len(kept), kept[0], kept[len(kept)-1])
	}
	e.must("down", "-t", "1")
}
