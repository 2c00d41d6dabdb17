package watch

import (
	"context"
	"fmt"
	"testing"
	"time"
)

var testTiming = Timing{Quiet: 10 * time.Millisecond, BurstQuiet: 500 * time.Millisecond, BurstPaths: 8, MaxWait: 10 * time.Second}

type batchRig struct {
	t     *testing.T
	clock *fakeClock
	in    chan batchInput
	out   chan Batch
	sent  int
}

func newBatchRig(t *testing.T, timing Timing) *batchRig {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	r := &batchRig{t: t, clock: newFakeClock(), in: make(chan batchInput), out: make(chan Batch)}
	go batcher(ctx, r.clock, timing, []time.Duration{0, 200 * time.Millisecond}, r.in, r.out)
	return r
}

// send hands the batcher one change and waits until it has set its timer.
func (r *batchRig) send(path string) {
	r.in <- batchInput{changes: []Change{{Path: path}}}
	r.sent++
	r.clock.waitTimers(r.t, r.sent)
}

// none checks that no batch is on offer. The batcher offers a batch only
// once its (fake) timer has fired, so a short look is enough.
func (r *batchRig) none(when string) {
	r.t.Helper()
	select {
	case b := <-r.out:
		r.t.Fatalf("%s: unexpected batch of %d", when, len(b.Changes))
	case <-time.After(30 * time.Millisecond):
	}
}

func (r *batchRig) next() Batch {
	r.t.Helper()
	select {
	case b := <-r.out:
		return b
	case <-time.After(5 * time.Second):
		r.t.Fatal("no batch")
	}
	return Batch{}
}

func TestBatchSingleEditGoesAfterQuiet(t *testing.T) {
	r := newBatchRig(t, testTiming)
	r.send("/src/main.go")
	r.clock.Advance(9 * time.Millisecond)
	r.none("before the quiet period")
	r.clock.Advance(time.Millisecond)
	b := r.next()
	if len(b.Changes) != 1 || b.Changes[0].Path != "/src/main.go" {
		t.Fatalf("batch %+v", b)
	}
}

func TestBatchEditorSaveIsOneBatch(t *testing.T) {
	// vim: write 4913 probe (filtered before the batcher), rename to
	// backup, write the file, chmod: the same path several times.
	r := newBatchRig(t, testTiming)
	for _, p := range []string{"/src/a.go", "/src/a.go", "/src/a.go"} {
		r.send(p)
		r.clock.Advance(time.Millisecond)
	}
	r.clock.Advance(testTiming.Quiet)
	if b := r.next(); len(b.Changes) != 1 {
		t.Fatalf("batch %+v, want one change", b)
	}
	r.none("after the batch")
}

func TestBatchBurstIsOneBatch(t *testing.T) {
	r := newBatchRig(t, testTiming)
	// A branch switch: 5,000 files, with the pauses of a busy disk
	// between them, longer than the quiet period of a single edit.
	for i := 0; i < 5000; i++ {
		r.send(fmt.Sprintf("/src/f%04d", i))
		if i%500 == 0 {
			r.clock.Advance(50 * time.Millisecond)
		}
	}
	r.clock.Advance(testTiming.Quiet)
	r.none("a burst after the quiet period of a single edit")
	r.clock.Advance(testTiming.BurstQuiet - testTiming.Quiet)
	if b := r.next(); len(b.Changes) != 5000 {
		t.Fatalf("batch of %d, want 5000", len(b.Changes))
	}
	r.clock.Advance(time.Hour)
	r.none("after the burst's batch")
}

func TestBatchWaitsForQuietAgainWhileConsumerBusy(t *testing.T) {
	r := newBatchRig(t, testTiming)
	r.send("/src/a")
	r.clock.Advance(testTiming.Quiet) // ready, but nobody takes it yet
	r.send("/src/b")                  // the consumer was busy: the batch grows
	r.none("right after a new event")
	r.clock.Advance(testTiming.Quiet)
	if b := r.next(); len(b.Changes) != 2 {
		t.Fatalf("batch %+v, want a and b together", b)
	}
}

func TestBatchMaxWaitBoundsAnEndlessStream(t *testing.T) {
	timing := Timing{Quiet: 10 * time.Millisecond, BurstQuiet: 100 * time.Millisecond, BurstPaths: 0, MaxWait: time.Second}
	r := newBatchRig(t, timing)
	got := 0
	for i := 0; i < 30; i++ {
		r.send("/var/log/app.log")
		r.clock.Advance(50 * time.Millisecond)
		select {
		case <-r.out:
			got++
			if i < 19 {
				t.Fatalf("batch after %d ms, before MaxWait", (i+1)*50)
			}
		case <-time.After(5 * time.Millisecond):
		}
	}
	if got == 0 {
		t.Fatal("a file written every 50 ms for 1.5 s was never reported")
	}
}

func TestBatchCostlyRuleWaitsLonger(t *testing.T) {
	r := newBatchRig(t, testTiming)
	// Rule 1 (a rebuild, say) waits 200 ms: the start of a burst whose
	// second file comes 50 ms after the first is not a change set alone.
	r.in <- batchInput{changes: []Change{{Rule: 1, Path: "/src/go.mod"}}}
	r.clock.waitTimers(t, 1)
	r.clock.Advance(50 * time.Millisecond)
	r.none("50 ms after a change under a costly rule")
	r.in <- batchInput{changes: []Change{{Rule: 1, Path: "/src/go.sum"}}}
	r.clock.waitTimers(t, 2)
	r.clock.Advance(199 * time.Millisecond)
	r.none("199 ms after the last change")
	r.clock.Advance(time.Millisecond)
	if b := r.next(); len(b.Changes) != 2 {
		t.Fatalf("batch %+v, want both files", b)
	}
}

func TestBatchRescanFlag(t *testing.T) {
	r := newBatchRig(t, testTiming)
	r.in <- batchInput{rescan: true}
	r.clock.waitTimers(t, 1)
	r.clock.Advance(testTiming.Quiet)
	if b := r.next(); !b.Rescan {
		t.Fatalf("batch %+v, want a rescan", b)
	}
}
