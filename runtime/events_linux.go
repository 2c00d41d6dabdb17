package runtime

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/berthdev/berth/internal/statefile"
)

// Events are recorded where a container's state changes, by the process
// that changes it: the CLI (create, kill, stop, pause, unpause, rename,
// destroy) and the container's monitor (start, die, health_status). There
// is no daemon to ask, so they go to a log under <state>/events, one JSON
// object per line, and a follower reads that log from where it began.
// Nothing polls the containers: a container that lives a millisecond
// still shows create, start and die.
//
// The log is a series of numbered segment files. A writer holds the
// directory's lock while it appends a line to the last segment, or starts
// the next segment when the last one is full, deleting the oldest beyond
// eventLogKeep. So once segment n+1 exists, segment n is complete: a
// follower reads n to its end and goes on with n+1, and misses no line
// unless it falls eventLogKeep segments behind.

// Event is one change in a container's life, named as Docker names it:
// create, start, die, kill, stop, pause, unpause, rename, destroy, and
// "health_status: healthy|unhealthy".
type Event struct {
	Time   time.Time `json:"time"`
	Action string    `json:"action"`
	ID     string    `json:"id"`
	// Attributes are the container's labels, its name and image, and
	// what the action adds: exitCode and execDuration (die), signal
	// (kill), oldName (rename).
	Attributes map[string]string `json:"attributes,omitempty"`
}

// The events log keeps eventLogKeep segments of up to eventLogMax bytes
// (some 3,000 events each), for followers that fall behind and for
// FollowEvents' replay.
const (
	eventLogMax  = 1 << 20
	eventLogKeep = 4
)

func (r *Runtime) events() *eventLog {
	return &eventLog{dir: filepath.Join(r.state, "events"), max: eventLogMax, keep: eventLogKeep}
}

// event records that action happened to container id, of spec s; extra
// are attribute names and values. Recording is best effort, and its
// failure is not reported: a full disk must not keep a container from
// being stopped or removed, nor make the verb that did it fail.
func (r *Runtime) event(action, id string, s *Spec, extra ...string) {
	attrs := maps.Clone(s.Labels)
	if attrs == nil {
		attrs = map[string]string{}
	}
	attrs["name"], attrs["image"] = s.Name, s.Image
	for i := 0; i+1 < len(extra); i += 2 {
		attrs[extra[i]] = extra[i+1]
	}
	r.events().append(Event{Time: time.Now().UTC(), Action: action, ID: id, Attributes: attrs})
}

// dieEvent records a container's exit.
func (r *Runtime) dieEvent(id string, s *Spec, code int, started time.Time) {
	extra := []string{"exitCode", strconv.Itoa(code)}
	if !started.IsZero() {
		extra = append(extra, "execDuration", strconv.Itoa(int(time.Since(started).Seconds())))
	}
	r.event("die", id, s, extra...)
}

// FollowOptions say where FollowEvents starts.
type FollowOptions struct {
	// Replay starts from the oldest event kept instead of from now.
	Replay bool
	// Ready, when set, is called once the follower is in place: every
	// event recorded after Ready returns reaches fn. A caller that looks
	// at the containers in Ready and then reacts to events misses no
	// change between the two.
	Ready func()
}

// FollowEvents calls fn with each event of every container of this berth,
// in the order recorded, from now on (with Replay, from the oldest event
// kept) until ctx ends or fn returns an error.
func (r *Runtime) FollowEvents(ctx context.Context, opts FollowOptions, fn func(Event) error) error {
	return r.events().follow(ctx, opts, fn)
}

// eventLog is the append-only events log: segments <dir>/<n>.jsonl.
type eventLog struct {
	dir  string
	max  int64 // bytes in a segment
	keep int   // segments kept
}

func (l *eventLog) segment(n uint64) string {
	return filepath.Join(l.dir, fmt.Sprintf("%020d.jsonl", n))
}

// segments lists the segment numbers there are, oldest first.
func (l *eventLog) segments() ([]uint64, error) {
	ents, err := os.ReadDir(l.dir)
	if err != nil {
		return nil, err
	}
	var out []uint64
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), ".jsonl")
		if n, err := strconv.ParseUint(name, 10, 64); ok && err == nil {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out, nil
}

func (l *eventLog) lock() (func(), error) {
	if err := os.MkdirAll(l.dir, 0o700); err != nil {
		return nil, err
	}
	return statefile.Lock(filepath.Join(l.dir, "lock"))
}

func (l *eventLog) append(ev Event) error {
	line, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	line = append(line, '\n')
	unlock, err := l.lock()
	if err != nil {
		return err
	}
	defer unlock()
	segs, err := l.segments()
	if err != nil {
		return err
	}
	n := uint64(1)
	if len(segs) > 0 {
		n = segs[len(segs)-1]
	}
	if fi, err := os.Stat(l.segment(n)); err == nil && fi.Size() > 0 && fi.Size()+int64(len(line)) > l.max {
		n++
		for _, old := range segs {
			if old+uint64(l.keep) <= n {
				os.Remove(l.segment(old))
			}
		}
	}
	f, err := os.OpenFile(l.segment(n), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(line)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// open opens the segment to follow from: the last, at its end, or with
// replay the oldest, at its start. The lock makes the position exact:
// every line appended later is read, none before.
func (l *eventLog) open(replay bool) (*os.File, uint64, error) {
	unlock, err := l.lock()
	if err != nil {
		return nil, 0, err
	}
	defer unlock()
	segs, err := l.segments()
	if err != nil {
		return nil, 0, err
	}
	n := uint64(1)
	switch {
	case len(segs) == 0:
	case replay:
		n = segs[0]
	default:
		n = segs[len(segs)-1]
	}
	f, err := os.OpenFile(l.segment(n), os.O_RDONLY|os.O_CREATE, 0o600)
	if err != nil {
		return nil, 0, err
	}
	if !replay {
		if _, err := f.Seek(0, io.SeekEnd); err != nil {
			f.Close()
			return nil, 0, err
		}
	}
	return f, n, nil
}

// after opens the first segment after n, if there is one.
func (l *eventLog) after(n uint64) (*os.File, uint64, error) {
	for {
		segs, err := l.segments()
		if err != nil {
			return nil, 0, err
		}
		i := slices.IndexFunc(segs, func(s uint64) bool { return s > n })
		if i < 0 {
			return nil, 0, nil
		}
		f, err := os.Open(l.segment(segs[i]))
		if errors.Is(err, fs.ErrNotExist) {
			continue // deleted meanwhile: this follower fell far behind
		}
		return f, segs[i], err
	}
}

// lineReader hands out the complete lines of a file as they are appended.
type lineReader struct {
	f       *os.File
	partial []byte
	buf     []byte
}

// next reads what the file has now and calls fn for each event line.
func (lr *lineReader) next(fn func(Event) error) error {
	if lr.buf == nil {
		lr.buf = make([]byte, 64<<10)
	}
	for {
		n, err := lr.f.Read(lr.buf)
		data := append(lr.partial, lr.buf[:n]...)
		for {
			i := bytes.IndexByte(data, '\n')
			if i < 0 {
				break
			}
			var ev Event
			// A line that a full disk cut short is skipped.
			if json.Unmarshal(data[:i], &ev) == nil {
				if err := fn(ev); err != nil {
					return err
				}
			}
			data = data[i+1:]
		}
		lr.partial = append(lr.partial[:0], data...)
		if err == io.EOF || n == 0 {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

func (l *eventLog) follow(ctx context.Context, opts FollowOptions, fn func(Event) error) error {
	if err := os.MkdirAll(l.dir, 0o700); err != nil {
		return err
	}
	// The watch is in place before the log is opened, so no append
	// after the open goes unnoticed.
	ino, err := watchDir(l.dir)
	if err != nil {
		return err
	}
	defer ino.Close()
	stop := context.AfterFunc(ctx, func() { ino.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()

	f, n, err := l.open(opts.Replay)
	if err != nil {
		return err
	}
	if opts.Ready != nil {
		opts.Ready()
	}
	cur := &lineReader{f: f}
	defer func() { cur.f.Close() }()
	buf := make([]byte, 64*(unix.SizeofInotifyEvent+unix.NAME_MAX+1))
	for {
		if err := cur.next(fn); err != nil {
			return err
		}
		nf, nn, err := l.after(n)
		if err != nil {
			return err
		}
		if nf != nil {
			// A later segment exists, so this one is complete.
			err := cur.next(fn)
			cur.f.Close()
			cur, n = &lineReader{f: nf}, nn
			if err != nil {
				return err
			}
			continue
		}
		if ctx.Err() != nil {
			return nil
		}
		k, err := ino.Read(buf)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("watching %s: %w", l.dir, err)
		}
		for off := 0; off+unix.SizeofInotifyEvent <= k; {
			ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
			if ev.Mask&unix.IN_IGNORED != 0 {
				return fmt.Errorf("watching %s: the directory was removed", l.dir)
			}
			off += unix.SizeofInotifyEvent + int(ev.Len)
		}
	}
}

// watchDir watches dir for files written or created in it; the returned
// file reads inotify events and honours read deadlines.
func watchDir(dir string) (*os.File, error) {
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("watching %s: %w", dir, err)
	}
	if _, err := unix.InotifyAddWatch(fd, dir, unix.IN_MODIFY|unix.IN_CREATE); err != nil {
		unix.Close(fd)
		if errors.Is(err, unix.ENOSPC) {
			return nil, fmt.Errorf("watching %s: inotify watch limit reached: raise fs.inotify.max_user_watches: %w", dir, err)
		}
		return nil, fmt.Errorf("watching %s: %w", dir, err)
	}
	return os.NewFile(uintptr(fd), "inotify"), nil
}
