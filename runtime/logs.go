package runtime

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
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

// rotate keeps maxFiles-1 older files as path.1 (newest) ... path.N.
func (w *logWriter) rotate() error {
	w.f.Close()
	if w.maxFiles <= 1 {
		if err := os.Truncate(w.path, 0); err != nil {
			return err
		}
	} else {
		for i := w.maxFiles - 1; i > 1; i-- {
			os.Rename(fmt.Sprintf("%s.%d", w.path, i-1), fmt.Sprintf("%s.%d", w.path, i))
		}
		if err := os.Rename(w.path, w.path+".1"); err != nil {
			return err
		}
	}
	f, err := os.OpenFile(w.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return err
	}
	w.f, w.size = f, 0
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
func (r *Runtime) Logs(ctx context.Context, ref string, opts LogOptions, fn func(LogLine) error) error {
	id, err := r.Resolve(ref)
	if err != nil {
		return err
	}
	path := filepath.Join(r.dir(id), "container.log")
	lines, offset, err := readLogFiles(path)
	if err != nil {
		return err
	}
	lines = filterLines(lines, opts)
	for _, l := range lines {
		if err := fn(l); err != nil {
			return err
		}
	}
	if !opts.Follow {
		return nil
	}
	var partial strings.Builder
	var pstream string
	for {
		f, err := os.Open(path)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		if f != nil {
			fi, _ := f.Stat()
			if fi != nil && fi.Size() < offset { // rotated
				offset = 0
			}
			f.Seek(offset, io.SeekStart)
			br := bufio.NewReader(f)
			for {
				raw, err := br.ReadString('\n')
				if err != nil { // incomplete record: read it again later
					break
				}
				offset += int64(len(raw))
				l, full, ok := parseLogRecord(raw)
				if !ok {
					continue
				}
				if !full {
					partial.WriteString(l.Text)
					pstream = l.Stream
					continue
				}
				if partial.Len() > 0 && pstream == l.Stream {
					l.Text = partial.String() + l.Text
					partial.Reset()
				}
				if !opts.Until.IsZero() && l.Time.After(opts.Until) {
					f.Close()
					return nil
				}
				if !opts.Since.IsZero() && l.Time.Before(opts.Since) {
					continue
				}
				if err := fn(l); err != nil {
					f.Close()
					return err
				}
			}
			f.Close()
		}
		info, err := r.Inspect(ctx, id)
		if err != nil || (info.Status != StatusRunning && info.Status != StatusPaused && info.Status != StatusRestarting) {
			if err == nil && info.Status == StatusCreated {
				// not started yet: keep waiting
			} else {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// readLogFiles reads the rotated files and the current one, oldest first,
// joining partial records; offset is the current file's size read.
func readLogFiles(path string) ([]LogLine, int64, error) {
	var files []string
	for i := 20; i >= 1; i-- {
		if _, err := os.Stat(fmt.Sprintf("%s.%d", path, i)); err == nil {
			files = append(files, fmt.Sprintf("%s.%d", path, i))
		}
	}
	files = append(files, path)
	var out []LogLine
	var offset int64
	var partial strings.Builder
	for _, p := range files {
		b, err := os.ReadFile(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, 0, err
		}
		if p == path {
			if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
				b = b[:i+1]
			} else {
				b = nil
			}
			offset = int64(len(b))
		}
		for _, raw := range strings.SplitAfter(string(b), "\n") {
			l, full, ok := parseLogRecord(raw)
			if !ok {
				continue
			}
			if !full {
				partial.WriteString(l.Text)
				continue
			}
			if partial.Len() > 0 {
				l.Text = partial.String() + l.Text
				partial.Reset()
			}
			out = append(out, l)
		}
	}
	return out, offset, nil
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

func filterLines(lines []LogLine, opts LogOptions) []LogLine {
	var out []LogLine
	for _, l := range lines {
		if !opts.Since.IsZero() && l.Time.Before(opts.Since) {
			continue
		}
		if !opts.Until.IsZero() && l.Time.After(opts.Until) {
			continue
		}
		out = append(out, l)
	}
	if opts.Tail >= 0 && len(out) > opts.Tail {
		out = out[len(out)-opts.Tail:]
	}
	return out
}
