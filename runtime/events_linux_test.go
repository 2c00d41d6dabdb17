package runtime

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// followLog follows l in the background and collects what it reads.
type followed struct {
	mu     sync.Mutex
	events []Event
	done   chan error
	cancel context.CancelFunc
}

func followLog(t *testing.T, l *eventLog, replay bool) *followed {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	f := &followed{done: make(chan error, 1), cancel: cancel}
	go func() {
		f.done <- l.follow(ctx, FollowOptions{Replay: replay}, func(ev Event) error {
			f.mu.Lock()
			f.events = append(f.events, ev)
			f.mu.Unlock()
			return nil
		})
	}()
	t.Cleanup(func() { cancel(); <-f.done })
	return f
}

func (f *followed) count(pred func(Event) bool) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, ev := range f.events {
		if pred(ev) {
			n++
		}
	}
	return n
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// untilFollowing appends markers until the follower has read one: from
// then on it reads every line appended.
func untilFollowing(t *testing.T, l *eventLog, f *followed) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for f.count(func(ev Event) bool { return ev.Action == "marker" }) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the follower never read a marker")
		}
		if err := l.append(Event{Action: "marker"}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestEventLogFollowerMissesNothingAcrossRotations(t *testing.T) {
	// Segments of 4 KiB, all kept: a slow follower must lose nothing to
	// the log moving on to new segments.
	l := &eventLog{dir: filepath.Join(t.TempDir(), "events"), max: 4 << 10, keep: 1 << 20}
	f := followLog(t, l, false)
	untilFollowing(t, l, f)
	const writers, each = 4, 400
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				ev := Event{Action: "n", ID: strconv.Itoa(w), Attributes: map[string]string{"i": strconv.Itoa(i)}}
				if err := l.append(ev); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	waitFor(t, "every event", func() bool { return f.count(func(ev Event) bool { return ev.Action == "n" }) >= writers*each })
	// The log was rotated many times over; each writer's events arrived
	// once each, in the order written.
	next := map[string]int{}
	f.mu.Lock()
	for _, ev := range f.events {
		if ev.Action != "n" {
			continue
		}
		if want := strconv.Itoa(next[ev.ID]); ev.Attributes["i"] != want {
			t.Fatalf("writer %s: got event %s, want %s", ev.ID, ev.Attributes["i"], want)
		}
		next[ev.ID]++
	}
	f.mu.Unlock()
	for w := range writers {
		if next[strconv.Itoa(w)] != each {
			t.Errorf("writer %d: %d events read, want %d", w, next[strconv.Itoa(w)], each)
		}
	}
	segs, err := l.segments()
	if err != nil || len(segs) < 10 {
		t.Errorf("the log has %d segments (%v), want many", len(segs), err)
	}
	for _, n := range segs {
		if fi, err := os.Stat(l.segment(n)); err != nil || fi.Size() > l.max {
			t.Errorf("segment %d: %v, %v", n, fi, err)
		}
	}
	f.cancel()
	select {
	case err := <-f.done:
		if err != nil {
			t.Errorf("follow: %v", err)
		}
		f.done <- err
	case <-time.After(5 * time.Second):
		t.Fatal("follow did not end with its context")
	}
}

func TestEventLogFollowerStartsAtTheEndOrReplays(t *testing.T) {
	l := &eventLog{dir: t.TempDir(), max: 1 << 10, keep: 2}
	for i := range 100 {
		if err := l.append(Event{Action: "old", ID: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	fresh := followLog(t, l, false)
	untilFollowing(t, l, fresh)
	if n := fresh.count(func(ev Event) bool { return ev.Action == "old" }); n != 0 {
		t.Errorf("a follower from now read %d old events", n)
	}
	replay := followLog(t, l, true)
	waitFor(t, "the replayed marker", func() bool { return replay.count(func(ev Event) bool { return ev.Action == "marker" }) > 0 })
	// What is kept (the last two segments) comes back in order, ending
	// with the newest.
	replay.mu.Lock()
	var ids []string
	for _, ev := range replay.events {
		if ev.Action == "old" {
			ids = append(ids, ev.ID)
		}
	}
	replay.mu.Unlock()
	if len(ids) == 0 || ids[len(ids)-1] != "99" || ids[0] == "0" {
		t.Fatalf("replayed %v, want the last ones kept", ids)
	}
	if segs, _ := l.segments(); len(segs) != 2 {
		t.Errorf("%d segments kept, want 2", len(segs))
	}
	for i := 1; i < len(ids); i++ {
		a, _ := strconv.Atoi(ids[i-1])
		b, _ := strconv.Atoi(ids[i])
		if b != a+1 {
			t.Fatalf("replay out of order or with gaps: %v", ids)
		}
	}
}

func TestEventLineWrittenInPiecesReadOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "1.jsonl")
	w, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	r, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	lr := &lineReader{f: r}
	var got []Event
	collect := func(ev Event) error { got = append(got, ev); return nil }
	w.WriteString(`{"action":"split","id":"a`)
	if err := lr.next(collect); err != nil || len(got) != 0 {
		t.Fatalf("half a line: %v %v", got, err)
	}
	w.WriteString(`bc"}` + "\n" + `not json` + "\n" + `{"action":"after"}` + "\n")
	if err := lr.next(collect); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Action != "split" || got[0].ID != "abc" || got[1].Action != "after" {
		t.Errorf("read %+v", got)
	}
}

// TestEventLogReadyMissesNothing: an event appended once Ready has been
// called reaches the follower, with no marker dance.
func TestEventLogReadyMissesNothing(t *testing.T) {
	l := &eventLog{dir: filepath.Join(t.TempDir(), "events"), max: 4 << 10, keep: 4}
	for i := range 3 {
		if err := l.append(Event{Action: "before", ID: strconv.Itoa(i)}); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan struct{})
	done := make(chan error, 1)
	var seen []string
	go func() {
		done <- l.follow(ctx, FollowOptions{Ready: func() { close(ready) }}, func(ev Event) error {
			seen = append(seen, ev.Action)
			if ev.Action == "after" {
				cancel()
			}
			return nil
		})
	}()
	<-ready
	if err := l.append(Event{Action: "after"}); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the event appended after Ready never reached the follower")
	}
	if len(seen) != 1 || seen[0] != "after" {
		t.Errorf("follower saw %v, want only the event appended after Ready", seen)
	}
}
