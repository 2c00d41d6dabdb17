package runtime

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/statefile"
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
	backlog := func(opts LogOptions) []LogLine {
		c := newLogChain(path, 3)
		defer c.Close()
		var lines []LogLine
		if err := readBacklog(c, opts, func(l LogLine) error { lines = append(lines, l); return nil }); err != nil {
			t.Fatal(err)
		}
		return lines
	}
	lines := backlog(LogOptions{Tail: -1})
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
	tail := backlog(LogOptions{Tail: 2})
	if len(tail) != 2 || tail[1].Text != long {
		t.Errorf("tail 2: %+v", tail)
	}
	since := backlog(LogOptions{Tail: -1, Since: lines[len(lines)-2].Time})
	if len(since) != 2 {
		t.Errorf("since: %d lines", len(since))
	}
}

// logScript drives a log writer and a follower in one goroutine, so that
// rotation happens exactly where a test puts it.
type logScript struct {
	t    *testing.T
	w    *logWriter
	c    *logChain
	next int      // the number of the next line written
	got  []string // what the follower passed on
	// during, when set, runs as the follower passes on each line: a
	// writer that goes on while the follower's consumer is busy.
	during func(n int)
}

func newLogScript(t *testing.T, maxFiles int) *logScript {
	t.Helper()
	path := filepath.Join(t.TempDir(), "container.log")
	// Rotation only when a script asks for it.
	w, err := newLogWriter(path, 1<<40, maxFiles)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	c := newLogChain(path, maxFiles)
	t.Cleanup(func() { c.Close() })
	return &logScript{t: t, w: w, c: c}
}

func (s *logScript) write(n int) {
	for range n {
		if err := s.w.write("stdout", fmt.Appendf(nil, "line %06d", s.next), true); err != nil {
			s.t.Fatal(err)
		}
		s.next++
	}
}

func (s *logScript) rotate() {
	s.w.mu.Lock()
	defer s.w.mu.Unlock()
	if err := s.w.rotate(); err != nil {
		s.t.Fatal(err)
	}
}

func (s *logScript) drain() {
	s.t.Helper()
	err := s.c.Drain(func(l LogLine) error {
		s.got = append(s.got, l.Text)
		if s.during != nil {
			s.during(len(s.got))
		}
		return nil
	})
	if err != nil {
		s.t.Fatal(err)
	}
}

// lines is "line a" ... "line b-1".
func lines(a, b int) []string {
	var out []string
	for i := a; i < b; i++ {
		out = append(out, fmt.Sprintf("line %06d", i))
	}
	return out
}

// Regression: the follower went by name, reopening container.log every
// 100 ms and taking a smaller file for a rotated one, so it skipped the
// old file's unread tail and the new file's head, and lost more when it
// was several rotations behind.
func TestLogFollowerReadsEveryLineOnceAcrossRotation(t *testing.T) {
	for _, tc := range []struct {
		name     string
		maxFiles int
		script   func(s *logScript)
	}{
		{"in step", 3, func(s *logScript) {
			for range 6 {
				s.write(5)
				s.drain()
				s.rotate()
			}
			s.write(5)
			s.drain()
		}},
		{"unread tail when it rotates, new file bigger", 3, func(s *logScript) {
			s.write(5)
			s.drain()
			s.write(5)
			s.rotate()
			s.write(50)
			s.drain()
		}},
		{"two rotations while stalled", 3, func(s *logScript) {
			s.write(5)
			s.drain()
			s.write(3)
			s.rotate()
			s.write(4)
			s.rotate()
			s.write(2)
			s.drain()
			s.write(2)
			s.drain()
		}},
		{"held file deleted by the third rotation", 3, func(s *logScript) {
			s.write(5)
			s.drain()
			for range 3 {
				s.write(3)
				s.rotate()
			}
			s.write(2)
			s.drain()
		}},
		{"five files, four rotations while stalled", 5, func(s *logScript) {
			s.write(1)
			s.drain()
			for range 4 {
				s.write(7)
				s.rotate()
			}
			s.drain()
			s.write(1)
			s.drain()
		}},
		{"one file, unlinked at rotation", 1, func(s *logScript) {
			s.write(5)
			s.drain()
			s.write(3)
			s.rotate()
			s.write(2)
			s.drain()
		}},
		{"started after rotations", 3, func(s *logScript) {
			s.write(4)
			s.rotate()
			s.write(4)
			s.rotate()
			s.write(4)
			s.drain()
			s.rotate()
			s.drain()
			s.write(1)
			s.drain()
		}},
		{"rotated between the backlog and the follow", 3, func(s *logScript) {
			s.write(4)
			s.drain()
			s.rotate()
			s.rotate()
			s.drain()
			s.write(4)
			s.drain()
		}},
		{"writer goes on while the consumer is busy", 3, func(s *logScript) {
			// The first file takes four reads, and the writer rotates
			// six times (twice max-file) while the follower passes on
			// its lines: the follower holds the files it sees coming,
			// so none is deleted unread.
			s.write(5000)
			s.during = func(n int) {
				if n%800 == 0 && n <= 4800 {
					s.rotate()
					s.write(100)
				}
			}
			s.drain()
			s.during = nil
			s.write(1)
			s.drain()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newLogScript(t, tc.maxFiles)
			tc.script(s)
			if want := lines(0, s.next); !slices.Equal(s.got, want) {
				t.Errorf("follower got %d lines, want %d:\n%s", len(s.got), len(want), describeGaps(s.got))
			}
		})
	}
}

// A follower that falls more than max-file rotations behind before it
// sees them loses the files deleted unseen, but what it passes on is still
// in order and never repeated.
func TestLogFollowerTooFarBehindSkipsWholeFiles(t *testing.T) {
	s := newLogScript(t, 3)
	s.write(5) // F
	s.drain()
	s.write(1)
	for range 4 { // G, H, I, J: F and G deleted, G unseen
		s.rotate()
		s.write(10)
	}
	s.drain()
	want := append(lines(0, 6), lines(16, s.next)...)
	if !slices.Equal(s.got, want) {
		t.Errorf("follower got:\n%s", describeGaps(s.got))
	}
}

// A long line's parts may end up in two files, and the other stream's
// lines may come between them.
func TestLogFollowerJoinsPartsAcrossRotation(t *testing.T) {
	s := newLogScript(t, 2)
	s.w.write("stdout", []byte("first half, "), false)
	s.w.write("stderr", []byte("an error"), true)
	s.drain()
	s.rotate()
	s.w.write("stdout", []byte("second half"), true)
	s.drain()
	if want := []string{"an error", "first half, second half"}; !slices.Equal(s.got, want) {
		t.Errorf("got %q, want %q", s.got, want)
	}
}

// The writer in one goroutine, the follower in another: renames race
// every step of the follower. No file is deleted (max-file is larger than
// the number of rotations), so the outcome cannot depend on who is faster.
func TestLogFollowerRacesTheWriter(t *testing.T) {
	const total, maxFiles = 20000, 400
	path := filepath.Join(t.TempDir(), "container.log")
	w, err := newLogWriter(path, 8<<10, maxFiles)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	c := newLogChain(path, maxFiles)
	defer c.Close()
	var got []string
	follow := func() {
		if err := c.Drain(func(l LogLine) error { got = append(got, l.Text); return nil }); err != nil {
			t.Error(err)
		}
	}
	var wg sync.WaitGroup
	done := make(chan struct{})
	wg.Go(func() {
		defer close(done)
		for i := range total {
			w.write("stdout", fmt.Appendf(nil, "line %06d", i), true)
		}
	})
	wg.Go(func() {
		for {
			select {
			case <-done:
				follow() // the rest, once the writer is done
				return
			default:
				follow()
			}
		}
	})
	wg.Wait()
	if want := lines(0, total); !slices.Equal(got, want) {
		t.Errorf("follower got %d lines, want %d:\n%s", len(got), total, describeGaps(got))
	}
	if rotated, _ := filepath.Glob(path + ".*"); len(rotated) < 50 {
		t.Errorf("only %d rotations", len(rotated))
	}
}

// describeGaps sums up numbered lines as runs: "0-5 16-55".
func describeGaps(got []string) string {
	var b strings.Builder
	start, prev := -1, -1
	flush := func() {
		if start >= 0 {
			fmt.Fprintf(&b, "%d-%d ", start, prev)
		}
	}
	for _, l := range got {
		var n int
		if _, err := fmt.Sscanf(l, "line %d", &n); err != nil {
			flush()
			fmt.Fprintf(&b, "%q ", l)
			start, prev = -1, -1
			continue
		}
		if n != prev+1 || start < 0 {
			flush()
			start = n
		}
		prev = n
	}
	flush()
	return b.String()
}

// The follower sleeps on inotify: a write to the log wakes it, and a
// recorded status asks it to look at the container.
func TestLogWaiterWakesOnWritesAndStatus(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := newLogWaiter(ctx, dir)
	defer w.Close()
	if w.f == nil {
		t.Fatal("no inotify instance")
	}
	if err := os.WriteFile(filepath.Join(dir, "container.log"), []byte("x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if status, err := w.Wait(ctx); err != nil || status {
		t.Errorf("after a log write: status %v, %v; want a wake-up for the log", status, err)
	}
	if err := statefile.WriteJSON(filepath.Join(dir, "status.json"), record{Status: StatusExited}, statefile.Options{}); err != nil {
		t.Fatal(err)
	}
	// The temporary file's events come first, status.json's last.
	status := false
	for range 5 {
		s, err := w.Wait(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if status = s; status {
			break
		}
	}
	if !status {
		t.Error("a recorded status did not ask for a look")
	}
	cancel()
	if _, err := w.Wait(ctx); err != nil {
		t.Errorf("after the context ended: %v", err)
	}
}
