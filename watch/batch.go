package watch

import (
	"context"
	"time"
)

// Clock is the time the batcher waits on; tests pass a fake one.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Timing says how long the batcher waits for the tree to be quiet.
type Timing struct {
	// Quiet is the wait after the last event of a small batch: long
	// enough to take in the handful of events of one editor save
	// (write, rename, chmod), short enough to go unnoticed.
	Quiet time.Duration
	// BurstQuiet is the wait once a batch holds more than BurstPaths
	// paths: a branch switch or an npm install pauses between files
	// for far longer than an editor, and should still be one change
	// set.
	BurstQuiet time.Duration
	BurstPaths int
	// MaxWait bounds how long a batch is held back while events keep
	// coming, so a file written forever cannot hold up the others.
	MaxWait time.Duration
}

// DefaultTiming is the batcher's timing outside tests.
var DefaultTiming = Timing{Quiet: 8 * time.Millisecond, BurstQuiet: 500 * time.Millisecond, BurstPaths: 8, MaxWait: 10 * time.Second}

// Batch is one change set: every path that changed under each rule since
// the last batch, each once.
type Batch struct {
	Changes []Change
	// Rescan is set when the batch comes from walking the trees again
	// after the kernel dropped events.
	Rescan bool
}

// Change is one path that changed under one rule. It may now exist or not:
// the consumer looks.
type Change struct {
	Rule int    // index of the rule in the watcher's rules
	Path string // absolute path on the host
}

// batchInput is what the event loop hands the batcher.
type batchInput struct {
	changes []Change
	rescan  bool
}

// batcher gathers changes into batches and sends each on out once the
// tree has been quiet for long enough and the consumer is ready: while the
// consumer is busy the pending batch goes on growing, and an event that
// arrives before the consumer takes it makes it wait for quiet again, so a
// burst that outlasts a rebuild is still one more change set, not many.
//
// ruleQuiet holds each rule's own least quiet time (see Rule.Quiet).
func batcher(ctx context.Context, clock Clock, t Timing, ruleQuiet []time.Duration, in <-chan batchInput, out chan<- Batch) {
	var (
		pending  []Change
		seen     = map[Change]bool{}
		paths    = map[string]bool{}
		rescan   bool
		least    time.Duration // the longest Rule.Quiet of the pending changes
		start    time.Time
		timer    <-chan time.Time
		ready    bool
		overdue  bool
		sendable chan<- Batch
	)
	reset := func() {
		pending, seen, paths, rescan, least = nil, map[Change]bool{}, map[string]bool{}, false, 0
		timer, ready, overdue = nil, false, false
	}
	for {
		sendable = nil
		if ready {
			sendable = out
		}
		select {
		case <-ctx.Done():
			return
		case b := <-in:
			now := clock.Now()
			if len(pending) == 0 && !rescan {
				start = now
			}
			for _, c := range b.changes {
				if !seen[c] {
					seen[c] = true
					paths[c.Path] = true
					pending = append(pending, c)
					if c.Rule >= 0 && c.Rule < len(ruleQuiet) {
						least = max(least, ruleQuiet[c.Rule])
					}
				}
			}
			rescan = rescan || b.rescan
			if len(pending) == 0 && !rescan {
				continue
			}
			if overdue {
				continue // held back long enough: goes as soon as it can
			}
			wait := max(t.Quiet, least)
			if len(paths) > t.BurstPaths {
				wait = max(wait, t.BurstQuiet)
			}
			if left := start.Add(t.MaxWait).Sub(now); left < wait {
				wait = max(left, 0)
			}
			ready, timer = false, clock.After(wait)
		case <-timer:
			ready, timer = true, nil
			overdue = !clock.Now().Before(start.Add(t.MaxWait))
		case sendable <- Batch{Changes: pending, Rescan: rescan}:
			reset()
		}
	}
}
