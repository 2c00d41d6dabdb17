package runtime

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLogWriterRotatesAndReaderJoinsFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "container.log")
	w, err := newLogWriter(path, 200, 3)
	if err != nil {
		t.Fatal(err)
	}
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	w.now = func() time.Time { clock = clock.Add(time.Second); return clock }
	for i := 0; i < 20; i++ {
		w.copyStream("stdout", strings.NewReader(fmt.Sprintf("line %02d\n", i)), nil)
	}
	// A line longer than a chunk arrives as parts and is joined again.
	long := strings.Repeat("x", logChunk+10)
	w.copyStream("stderr", strings.NewReader(long+"\n"), nil)
	w.Close()
	if _, err := os.Stat(path + ".3"); err == nil {
		t.Error("more rotated files kept than asked")
	}
	if _, err := os.Stat(path + ".1"); err != nil {
		t.Errorf("no rotation happened: %v", err)
	}
	lines, _, err := readLogFiles(path)
	if err != nil {
		t.Fatal(err)
	}
	last := lines[len(lines)-1]
	if last.Text != long || last.Stream != "stderr" {
		t.Errorf("long line came back as %d bytes on %s", len(last.Text), last.Stream)
	}
	// What survived rotation is the newest lines, in order.
	prev := ""
	for _, l := range lines[:len(lines)-1] {
		if l.Text <= prev {
			t.Errorf("out of order: %q after %q", l.Text, prev)
		}
		prev = l.Text
	}
	if prev != "line 19" {
		t.Errorf("newest short line %q, want line 19", prev)
	}
	tail := filterLines(lines, LogOptions{Tail: 2})
	if len(tail) != 2 || tail[1].Text != long {
		t.Errorf("tail 2: %+v", tail)
	}
	since := filterLines(lines, LogOptions{Tail: -1, Since: lines[len(lines)-2].Time})
	if len(since) != 2 {
		t.Errorf("since: %d lines", len(since))
	}
}
