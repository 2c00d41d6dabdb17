package runtime

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Log files hold one line per record, in the CRI format:
//
//	<RFC 3339 time, nanoseconds> <stdout|stderr> <F|P> <text>
//
// F marks the end of a line, P a part of a longer one (a line over 16 KiB,
// or output cut by the container's exit), so readers can join them and
// lines of different streams never interleave mid-line.
const logChunk = 16 << 10

// logWriter appends timestamped records to a container's log file,
// rotating it at a size limit.
type logWriter struct {
	mu       sync.Mutex
	path     string
	f        *os.File
	size     int64
	maxSize  int64
	maxFiles int
	now      func() time.Time
}

// A container's log rotates, unless its compose file says otherwise, as
// Docker's local log driver does: at 20 MB, keeping 5 files.
const (
	DefaultLogMaxSize  = 20 << 20
	DefaultLogMaxFiles = 5
)

func newLogWriter(path string, maxSize int64, maxFiles int) (*logWriter, error) {
	if maxSize <= 0 {
		maxSize = DefaultLogMaxSize
	}
	if maxFiles <= 0 {
		maxFiles = DefaultLogMaxFiles
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &logWriter{path: path, f: f, size: fi.Size(), maxSize: maxSize, maxFiles: maxFiles, now: time.Now}, nil
}

func (w *logWriter) write(stream string, line []byte, full bool) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	tag := "F"
	if !full {
		tag = "P"
	}
	rec := make([]byte, 0, len(line)+48)
	rec = w.now().UTC().AppendFormat(rec, time.RFC3339Nano)
	rec = append(rec, ' ')
	rec = append(rec, stream...)
	rec = append(rec, ' ')
	rec = append(rec, tag...)
	rec = append(rec, ' ')
	rec = append(rec, line...)
	rec = append(rec, '\n')
	if w.size+int64(len(rec)) > w.maxSize && w.size > 0 {
		if err := w.rotate(); err != nil {
			return err
		}
	}
	n, err := w.f.Write(rec)
	w.size += int64(n)
	return err
}

// rotate keeps maxFiles-1 older files as path.1 (newest) ... path.N. The
// file being written is renamed away, or unlinked when no older file is
// kept, and never truncated: a follower that holds it open reads it to its
// end before it moves on.
func (w *logWriter) rotate() error {
	w.f.Close()
	var err error
	if w.maxFiles <= 1 {
		err = os.Remove(w.path)
	} else {
		for i := w.maxFiles - 1; i > 1; i-- {
			os.Rename(fmt.Sprintf("%s.%d", w.path, i-1), fmt.Sprintf("%s.%d", w.path, i))
		}
		err = os.Rename(w.path, w.path+".1")
	}
	// Reopened even when the rename failed, so that logging goes on.
	f, oerr := os.OpenFile(w.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if oerr != nil {
		return errors.Join(err, oerr)
	}
	w.f = f
	if err != nil {
		return fmt.Errorf("rotating %s: %w", w.path, err)
	}
	w.size = 0
	return nil
}

// copyStream reads r until EOF and writes each line as a record; tee, when
// set, also gets the raw bytes.
func (w *logWriter) copyStream(stream string, r io.Reader, tee io.Writer) {
	br := bufio.NewReaderSize(r, logChunk)
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			if tee != nil {
				tee.Write(line)
			}
			full := line[len(line)-1] == '\n'
			if full {
				line = bytes.TrimSuffix(line, []byte("\n"))
				line = bytes.TrimSuffix(line, []byte("\r"))
			}
			w.write(stream, line, full)
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return
		}
	}
}

func (w *logWriter) Close() error { return w.f.Close() }

// LogLine is one line of a container's output.
type LogLine struct {
	Time   time.Time
	Stream string // "stdout" or "stderr"
	Text   string // without the line end
}

// LogOptions select and follow a container's log.
type LogOptions struct {
	Follow bool
	Tail   int // last N lines; <0 means all
	Since  time.Time
	Until  time.Time
}

// Logs calls fn with each line of the container's log in order; with
// Follow it keeps reading until the container stops or ctx is done.
//
// Every line comes once, in order, across rotation: the files are read
// through open descriptors, each to its end before the next, so one that
// is renamed or deleted meanwhile is still read whole. A follower holds the
// files it sees come after the one it reads, up to max-file of them, so a
// slow reader keeps at most that many deleted files alive; it loses whole
// files only when the writer rotates past more than that before it looks
// (its consumer blocked that long).
func (r *Runtime) Logs(ctx context.Context, ref string, opts LogOptions, fn func(LogLine) error) error {
	info, err := r.Inspect(ctx, ref)
	if err != nil {
		return err
	}
	maxFiles := info.Spec.LogMaxFiles
	if maxFiles <= 0 {
		maxFiles = DefaultLogMaxFiles
	}
	c := newLogChain(filepath.Join(info.Dir, "container.log"), maxFiles)
	defer c.Close()
	var waiter *logWaiter
	if opts.Follow {
		// Made before the first read, so that no write after that read
		// goes unnoticed.
		waiter = newLogWaiter(ctx, info.Dir)
		defer waiter.Close()
	}

	// A log that keeps growing keeps a read going: the context is
	// looked at line by line.
	emit := func(l LogLine) error {
		if ctx.Err() != nil {
			return errLogEnd
		}
		return fn(l)
	}
	if err := readBacklog(c, opts, emit); err != nil || !opts.Follow {
		return ignoreLogEnd(err)
	}

	follow := func(l LogLine) error {
		if !opts.Until.IsZero() && l.Time.After(opts.Until) {
			return errLogEnd
		}
		if !opts.Since.IsZero() && l.Time.Before(opts.Since) {
			return nil
		}
		return emit(l)
	}
	for checkStatus := true; ; {
		if err := c.Drain(follow); err != nil {
			return ignoreLogEnd(err)
		}
		if checkStatus && !logsGoOn(r.Inspect(ctx, info.ID)) {
			// The container's last output was written before its exit
			// was recorded: one more read takes in all of it.
			return ignoreLogEnd(c.Drain(follow))
		}
		var werr error
		checkStatus, werr = waiter.Wait(ctx)
		if werr != nil {
			return werr
		}
		if ctx.Err() != nil {
			return nil
		}
	}
}

// readBacklog passes on what the log holds now, in the time range, of
// which the last Tail lines.
func readBacklog(c *logChain, opts LogOptions, fn func(LogLine) error) error {
	var last []LogLine
	err := c.Drain(func(l LogLine) error {
		if !inTimeRange(l, opts) {
			return nil
		}
		if opts.Tail < 0 {
			return fn(l)
		}
		last = append(last, l)
		if len(last) > 2*opts.Tail+64 {
			last = append(last[:0], last[len(last)-opts.Tail:]...)
		}
		return nil
	})
	if err != nil || opts.Tail < 0 {
		return err
	}
	for _, l := range last[max(0, len(last)-opts.Tail):] {
		if err := fn(l); err != nil {
			return err
		}
	}
	return nil
}

// errLogEnd stops reading a log early: at the first line after
// LogOptions.Until, or when the caller's context is done.
var errLogEnd = errors.New("end of the log wanted")

func ignoreLogEnd(err error) error {
	if errors.Is(err, errLogEnd) {
		return nil
	}
	return err
}

// logsGoOn says whether a follower should wait for more output: while the
// container runs or is about to (created, restarting).
func logsGoOn(info Info, err error) bool {
	if err != nil {
		return false
	}
	switch info.Status {
	case StatusCreated, StatusRunning, StatusPaused, StatusRestarting:
		return true
	}
	return false
}

func inTimeRange(l LogLine, opts LogOptions) bool {
	if !opts.Since.IsZero() && l.Time.Before(opts.Since) {
		return false
	}
	return opts.Until.IsZero() || !l.Time.After(opts.Until)
}

// logDecoder turns records into lines, joining the parts of a long line;
// each stream has its own, since stdout and stderr are written
// concurrently and their records interleave.
type logDecoder struct {
	partial map[string][]byte
}

// decode takes one record without its newline; ok is false for a part of
// a longer line and for a record that does not parse.
func (d *logDecoder) decode(rec []byte) (l LogLine, ok bool) {
	l, full, ok := parseLogRecord(string(rec))
	if !ok {
		return LogLine{}, false
	}
	p := d.partial[l.Stream]
	if !full {
		if d.partial == nil {
			d.partial = map[string][]byte{}
		}
		d.partial[l.Stream] = append(p, l.Text...)
		return LogLine{}, false
	}
	if len(p) > 0 {
		l.Text = string(p) + l.Text
		d.partial[l.Stream] = p[:0]
	}
	return l, true
}

func parseLogRecord(raw string) (LogLine, bool, bool) {
	raw = strings.TrimSuffix(raw, "\n")
	ts, rest, ok := strings.Cut(raw, " ")
	if !ok {
		return LogLine{}, false, false
	}
	stream, rest, ok := strings.Cut(rest, " ")
	if !ok {
		return LogLine{}, false, false
	}
	tag, text, ok := strings.Cut(rest, " ")
	if !ok {
		return LogLine{}, false, false
	}
	t, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return LogLine{}, false, false
	}
	return LogLine{Time: t, Stream: stream, Text: text}, tag == "F", true
}
