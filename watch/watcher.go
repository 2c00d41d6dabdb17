package watch

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Rule is one tree (or one file) to watch and what of it to leave out.
type Rule struct {
	// Path is absolute: a directory, watched with everything below it,
	// or a file.
	Path string
	// Ignore lists matchers of which any leaves a path out (nil ones are
	// skipped): the rule's own ignore patterns, the build context's
	// .dockerignore.
	Ignore []*Matcher
	// Include, when set, leaves out every file it does not match.
	Include *Matcher
	// Quiet, when longer than the batcher's, is how long the tree must
	// be quiet before a change under this rule goes out: a rule whose
	// action is costly (a rebuild, a restart) waits longer, so that the
	// first files of a burst do not set it off on their own.
	Quiet time.Duration
}

// Options change how a Watcher batches.
type Options struct {
	Clock  Clock  // nil: the real clock
	Timing Timing // zero: DefaultTiming
}

// fileState is what the watcher remembers of a path, to find what changed
// when it has to walk the trees again.
type fileState struct {
	mode  fs.FileMode
	size  int64
	mtime int64
}

func stateOf(fi fs.FileInfo) fileState {
	st := fileState{mode: fi.Mode()}
	if !fi.IsDir() {
		st.size, st.mtime = fi.Size(), fi.ModTime().UnixNano()
	}
	return st
}

// Watcher watches its rules' trees and turns what happens in them into
// batches of changes.
type Watcher struct {
	rules  []Rule
	isFile []bool // the rule's path is a file, not a tree
	fsw    *fsnotify.Watcher
	clock  Clock
	timing Timing

	mu    sync.Mutex // guards dirs for Watches
	dirs  map[string]bool
	known map[string]fileState
}

// New checks the rules' paths and watches every directory they need; the
// watches are held from then on, so nothing that changes after New returns
// is missed. It fails with a LimitError when the kernel refuses a watch.
func New(rules []Rule, opts Options) (*Watcher, error) {
	w := &Watcher{rules: rules, clock: opts.Clock, timing: opts.Timing, dirs: map[string]bool{}, known: map[string]fileState{}}
	if w.clock == nil {
		w.clock = realClock{}
	}
	if w.timing == (Timing{}) {
		w.timing = DefaultTiming
	}
	for i, r := range rules {
		if !filepath.IsAbs(r.Path) {
			return nil, fmt.Errorf("watch rule %d: path %q is not absolute", i, r.Path)
		}
		w.rules[i].Path = filepath.Clean(r.Path)
		fi, err := os.Stat(r.Path)
		if err != nil {
			return nil, fmt.Errorf("%w: %s", ErrNoPath, r.Path)
		}
		w.isFile = append(w.isFile, !fi.IsDir())
	}
	fsw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, limitError(err, "fs.inotify.max_user_instances", ErrInstanceLimit)
	}
	w.fsw = fsw
	if _, err := w.scan(); err != nil {
		fsw.Close()
		return nil, err
	}
	return w, nil
}

// Close releases the watches.
func (w *Watcher) Close() error { return w.fsw.Close() }

// Watches is the number of directories watched, one inotify watch each.
func (w *Watcher) Watches() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.dirs)
}

// Run hands each batch to apply, one at a time, until ctx ends (nil) or the
// watcher fails (a LimitError, a read error). Changes that happen while
// apply runs go into the next batch.
func (w *Watcher) Run(ctx context.Context, apply func(Batch)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	in := make(chan batchInput)
	out := make(chan Batch)
	quiet := make([]time.Duration, len(w.rules))
	for i, r := range w.rules {
		quiet[i] = r.Quiet
	}
	go batcher(ctx, w.clock, w.timing, quiet, in, out)
	errc := make(chan error, 1)
	go func() { errc <- w.loop(ctx, in) }()
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-errc:
			if ctx.Err() != nil {
				return nil
			}
			return err
		case b := <-out:
			apply(b)
		}
	}
}

// loop turns fsnotify's events into changes for the batcher.
func (w *Watcher) loop(ctx context.Context, in chan<- batchInput) error {
	send := func(b batchInput) bool {
		if len(b.changes) == 0 && !b.rescan {
			return true
		}
		select {
		case in <- b:
			return true
		case <-ctx.Done():
			return false
		}
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.fsw.Events:
			if !ok {
				return errors.New("inotify: event stream closed")
			}
			changes, err := w.event(ev.Name)
			if err != nil {
				return err
			}
			if !send(batchInput{changes: changes}) {
				return nil
			}
		case err, ok := <-w.fsw.Errors:
			if !ok {
				return errors.New("inotify: event stream closed")
			}
			if !errors.Is(err, fsnotify.ErrEventOverflow) {
				return fmt.Errorf("inotify: %w", err)
			}
			// Events were dropped: walk everything again and
			// report what differs from what was seen.
			changes, err := w.scan()
			if err != nil {
				return err
			}
			if !send(batchInput{changes: changes, rescan: true}) {
				return nil
			}
		}
	}
}

// under says whether p is root or below it.
func under(p, root string) bool {
	return p == root || strings.HasPrefix(p, root+string(filepath.Separator)) || root == string(filepath.Separator)
}

// relTo is p relative to root, slash-separated.
func relTo(root, p string) string {
	r, _ := filepath.Rel(root, p)
	return filepath.ToSlash(r)
}

// prunes says whether the rule leaves out the directory d and all below it.
func (r Rule) prunes(d string) bool {
	if rel := relTo(r.Path, d); rel != "." && Ephemeral(rel) {
		return true
	}
	for _, m := range r.Ignore {
		if m.Prunes(d) {
			return true
		}
	}
	return false
}

// prunedAbove says whether a directory between the rule's root and p is
// left out (so p is never reached by the rule's walk).
func (r Rule) prunedAbove(p string) bool {
	for d := filepath.Dir(p); under(d, r.Path) && d != r.Path; d = filepath.Dir(d) {
		if r.prunes(d) {
			return true
		}
	}
	return false
}

// takes says whether the tree rule takes a change of p; isDir and gone say
// what p is (or was, for a path that is gone).
func (r Rule) takes(p string, isDir, gone bool) bool {
	if !under(p, r.Path) || p == r.Path {
		return false
	}
	if Ephemeral(relTo(r.Path, p)) {
		return false
	}
	for _, m := range r.Ignore {
		if m.Matches(p) {
			return false
		}
	}
	if r.prunedAbove(p) {
		return false
	}
	if r.Include != nil && !r.Include.Matches(p) {
		// A directory that goes takes its included files with it.
		return gone && isDir
	}
	return true
}

// Walk calls fn for every path the rule takes as it is now, directories
// before what they hold; ignored trees are not entered. For a rule on a
// file, that is the file.
func (r Rule) Walk(fn func(p string, d fs.DirEntry) error) error {
	fi, err := os.Stat(r.Path)
	if err != nil {
		return fmt.Errorf("%w: %s", ErrNoPath, r.Path)
	}
	if !fi.IsDir() {
		return fn(r.Path, fs.FileInfoToDirEntry(fi))
	}
	return filepath.WalkDir(r.Path, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == r.Path {
			return nil
		}
		if d.IsDir() && r.prunes(p) {
			return fs.SkipDir
		}
		if !r.takes(p, d.IsDir(), false) {
			return nil
		}
		return fn(p, d)
	})
}

// wantsDir says whether some rule needs the directory d watched.
func (w *Watcher) wantsDir(d string) bool {
	for i, r := range w.rules {
		if w.isFile[i] {
			if filepath.Dir(r.Path) == d {
				return true
			}
			continue
		}
		if under(d, r.Path) && !r.prunes(d) && !r.prunedAbove(d) {
			return true
		}
	}
	return false
}

// accepts says whether rule i takes a change of p.
func (w *Watcher) accepts(i int, p string, isDir, gone bool) bool {
	if w.isFile[i] {
		return p == w.rules[i].Path
	}
	return w.rules[i].takes(p, isDir, gone)
}

// changesFor lists p under every rule that takes it.
func (w *Watcher) changesFor(p string, isDir, gone bool) []Change {
	var out []Change
	for i := range w.rules {
		if w.accepts(i, p, isDir, gone) {
			out = append(out, Change{Rule: i, Path: p})
		}
	}
	return out
}

// event handles one fsnotify event for path p: it looks at p now, watches
// a new directory (and reports what is already in it), forgets a gone
// one, and reports p to the rules that take it.
func (w *Watcher) event(p string) ([]Change, error) {
	p = filepath.Clean(p)
	fi, err := os.Lstat(p)
	if err != nil {
		prev, had := w.known[p]
		w.forget(p)
		return w.changesFor(p, had && prev.mode.IsDir(), true), nil
	}
	st := stateOf(fi)
	if prev, had := w.known[p]; had && prev == st && fi.IsDir() {
		return nil, nil // a directory's own entries changed: their events say what
	}
	if prev, had := w.known[p]; had && prev.mode.IsDir() && !fi.IsDir() {
		w.forget(p) // a directory replaced by a file
	}
	w.known[p] = st
	changes := w.changesFor(p, fi.IsDir(), false)
	if fi.IsDir() && !w.watched(p) && w.wantsDir(p) {
		// Its content may have been made before the watch was in
		// place (mkdir -p a/b/c && touch a/b/c/f): walk it.
		more, err := w.walk(p, nil)
		if err != nil {
			return nil, err
		}
		changes = append(changes, more...)
	}
	return changes, nil
}

func (w *Watcher) watched(d string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.dirs[d]
}

// forget drops p and everything below it: watches and what was seen.
func (w *Watcher) forget(p string) {
	delete(w.known, p)
	prefix := p + string(filepath.Separator)
	for k := range w.known {
		if strings.HasPrefix(k, prefix) {
			delete(w.known, k)
		}
	}
	w.mu.Lock()
	var gone []string
	for d := range w.dirs {
		if d == p || strings.HasPrefix(d, prefix) {
			gone = append(gone, d)
			delete(w.dirs, d)
		}
	}
	w.mu.Unlock()
	for _, d := range gone {
		// The kernel drops the watch of a deleted directory itself;
		// a moved one stays and would report under its old name.
		w.fsw.Remove(d)
	}
}

// addWatch watches the directory d.
func (w *Watcher) addWatch(d string) error {
	if w.watched(d) {
		return nil
	}
	if err := w.fsw.Add(d); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil // gone again already
		}
		return limitError(err, "fs.inotify.max_user_watches", ErrWatchLimit)
	}
	w.mu.Lock()
	w.dirs[d] = true
	w.mu.Unlock()
	return nil
}

// walk watches the directories under top that a rule needs and returns a
// change for every path under it that a rule takes (or, with seen, records
// what it finds there and returns nothing).
func (w *Watcher) walk(top string, seen map[string]fileState) ([]Change, error) {
	var changes []Change
	err := filepath.WalkDir(top, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == top {
				return nil
			}
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return nil // unreadable: what can be read is still watched
		}
		if d.IsDir() {
			if p != top && !w.wantsDir(p) {
				if seen == nil {
					changes = append(changes, w.changesFor(p, true, false)...)
				}
				return fs.SkipDir
			}
			if err := w.addWatch(p); err != nil {
				return err
			}
		}
		fi, err := d.Info()
		if err != nil {
			return nil
		}
		if seen != nil {
			seen[p] = stateOf(fi)
			return nil
		}
		w.known[p] = stateOf(fi)
		if p != top {
			changes = append(changes, w.changesFor(p, d.IsDir(), false)...)
		}
		return nil
	})
	return changes, err
}

// scan walks every rule's tree: it watches what needs watching, stops
// watching what is gone, and returns what differs from what was known (on
// the first scan, nothing: it only records).
func (w *Watcher) scan() ([]Change, error) {
	first := len(w.known) == 0
	seen := map[string]fileState{}
	for i, r := range w.rules {
		top := r.Path
		if w.isFile[i] {
			top = filepath.Dir(r.Path)
			if err := w.addWatch(top); err != nil {
				return nil, err
			}
			if fi, err := os.Lstat(top); err == nil {
				seen[top] = stateOf(fi)
			}
			if fi, err := os.Lstat(r.Path); err == nil {
				seen[r.Path] = stateOf(fi)
			}
			continue
		}
		if _, err := w.walk(top, seen); err != nil {
			return nil, err
		}
	}
	var changes []Change
	if !first {
		for p, st := range seen {
			if prev, ok := w.known[p]; !ok || prev != st && !(prev.mode.IsDir() && st.mode.IsDir()) {
				changes = append(changes, w.changesFor(p, st.mode.IsDir(), false)...)
			}
		}
		for p, prev := range w.known {
			if _, ok := seen[p]; !ok {
				changes = append(changes, w.changesFor(p, prev.mode.IsDir(), true)...)
			}
		}
	}
	w.mu.Lock()
	var stale []string
	for d := range w.dirs {
		if _, ok := seen[d]; !ok {
			stale = append(stale, d)
			delete(w.dirs, d)
		}
	}
	w.mu.Unlock()
	for _, d := range stale {
		w.fsw.Remove(d)
	}
	w.known = seen
	return changes, nil
}
