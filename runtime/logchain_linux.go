package runtime

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// A container's log is a chain of files: container.log is written,
// container.log.1 is the newest older one, container.log.N the oldest.
// Rotation renames each file one place up and deletes the last, so a
// reader that goes by name skips or repeats lines whenever it happens
// between two reads. A logChain goes by open descriptor instead: it knows
// a file by its device and inode, reads it to its end, and moves on only
// once the file was rotated away, to the file that came after it.

// logReadSize is how much of a log file one read takes.
const logReadSize = 64 << 10

// logFile is one log file held open: renamed or deleted, it still reads.
type logFile struct {
	f        *os.File
	dev, ino uint64
}

func openLogFile(path string) (*logFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	st := fi.Sys().(*syscall.Stat_t)
	return &logFile{f: f, dev: st.Dev, ino: st.Ino}, nil
}

// at says whether path names this very file now. An inode number held open
// cannot be reused, so equal numbers mean the same file.
func (l *logFile) at(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && l.is(fi)
}

func (l *logFile) is(fi os.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && st.Dev == l.dev && st.Ino == l.ino
}

// deleted says whether the file has no name left.
func (l *logFile) deleted() bool {
	fi, err := l.f.Stat()
	if err != nil {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && st.Nlink == 0
}

// logChain reads a container's log files in order, each line once.
type logChain struct {
	path     string
	maxFiles int
	// files[0] is being read; the others came after it, oldest first,
	// and are held so that rotation cannot delete them unread.
	files []*logFile
	buf   []byte // read from files[0] but not yet a whole record
	dec   logDecoder
}

func newLogChain(path string, maxFiles int) *logChain {
	return &logChain{path: path, maxFiles: max(maxFiles, 1), buf: make([]byte, 0, logReadSize)}
}

// name is the path of the file n rotations old (0: the one written).
func (c *logChain) name(n int) string {
	if n == 0 {
		return c.path
	}
	return fmt.Sprintf("%s.%d", c.path, n)
}

// Close lets go of every file held.
func (c *logChain) Close() error {
	for _, f := range c.files {
		f.f.Close()
	}
	c.files = nil
	return nil
}

// Drain reads up to the end of the newest file, calling fn with each
// line, and leaves a file only once it was rotated away and read to its
// end; an error from fn stops it.
func (c *logChain) Drain(fn func(LogLine) error) error {
	if len(c.files) == 0 {
		f := c.oldest()
		if f == nil {
			return nil // no log yet
		}
		c.files = append(c.files, f)
	}
	for {
		n, err := c.read(fn)
		if err != nil {
			return err
		}
		c.hold()
		if n > 0 {
			continue
		}
		if len(c.files) == 1 {
			return nil // at the end of the newest file
		}
		// files[0] was rotated, so nothing is written to it any more;
		// what was written after the read above, before the rotation
		// that hold saw, is read now.
		if n, err := c.read(fn); err != nil || n > 0 {
			if err != nil {
				return err
			}
			continue
		}
		c.files[0].f.Close()
		c.files = c.files[1:]
		// A record cut short can only be one whose writing failed.
		c.buf = c.buf[:0]
	}
}

// read reads once from files[0] and passes on the whole records it
// completes; it returns how many bytes it read.
func (c *logChain) read(fn func(LogLine) error) (int, error) {
	if cap(c.buf)-len(c.buf) < logReadSize {
		// Records are at most a chunk of output long, so the buffer
		// grows only past a record that never ends: drop it.
		if len(c.buf) > 4*logReadSize {
			c.buf = c.buf[:0]
		} else {
			c.buf = append(c.buf, make([]byte, logReadSize)...)[:len(c.buf)]
		}
	}
	n, err := c.files[0].f.Read(c.buf[len(c.buf):cap(c.buf)])
	if err != nil && !errors.Is(err, io.EOF) {
		return 0, fmt.Errorf("reading the log: %w", err)
	}
	c.buf = c.buf[:len(c.buf)+n]
	rest := c.buf
	for {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			break
		}
		if l, ok := c.dec.decode(rest[:i]); ok {
			if err := fn(l); err != nil {
				return n, err
			}
		}
		rest = rest[i+1:]
	}
	c.buf = c.buf[:copy(c.buf, rest)]
	return n, nil
}

// hold opens the files that came after the newest one held, as far as
// rotation has gone, up to maxFiles beyond the one being read.
func (c *logChain) hold() {
	for len(c.files) <= c.maxFiles {
		last := c.files[len(c.files)-1]
		if last.at(c.path) {
			return
		}
		next := c.after(last)
		if next == nil {
			return // rotation is under way: look again later
		}
		c.files = append(c.files, next)
	}
}

// after opens the file that came after f, which was rotated away.
func (c *logChain) after(f *logFile) *logFile {
	if f.deleted() {
		// f went off the end of the chain before the file after it was
		// held: the oldest file left is the nearest to it.
		return c.oldest()
	}
	for try := 0; try < 3; try++ {
		for n := 1; n < c.maxFiles; n++ {
			if !f.at(c.name(n)) {
				continue
			}
			next, err := openLogFile(c.name(n - 1))
			if err != nil {
				break
			}
			// f still at n means no rotation came in between, so the
			// file opened was at n-1 alongside it: the one after it.
			if f.at(c.name(n)) {
				return next
			}
			next.f.Close()
			break
		}
	}
	return nil
}

// oldest opens the oldest file of the chain.
func (c *logChain) oldest() *logFile {
	for try := 0; try < 3; try++ {
	next:
		for n := c.maxFiles - 1; n >= 0; n-- {
			f, err := openLogFile(c.name(n))
			if err != nil {
				continue
			}
			// A rotation under way may have moved an older file past
			// n, from where it was not yet looked at.
			for m := n + 1; m < c.maxFiles; m++ {
				if _, err := os.Lstat(c.name(m)); err == nil {
					f.f.Close()
					break next
				}
			}
			return f
		}
	}
	return nil
}

// logWaiter wakes a follower when a container's directory changes: its
// log is written or rotated, or its status recorded. Without inotify (out
// of instances, say) it polls instead.
type logWaiter struct {
	ctx  context.Context
	f    *os.File // the inotify instance, nil when polling
	stop func() bool
	buf  []byte
}

// logPoll is how often a follower without inotify looks; logStatusCheck
// is how often one with it checks the status anyway, since a monitor that
// dies records nothing.
const (
	logPoll        = 50 * time.Millisecond
	logStatusCheck = time.Second
)

func newLogWaiter(ctx context.Context, dir string) *logWaiter {
	w := &logWaiter{ctx: ctx}
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return w
	}
	const mask = unix.IN_MODIFY | unix.IN_CREATE | unix.IN_MOVED_TO | unix.IN_MOVED_FROM |
		unix.IN_DELETE | unix.IN_DELETE_SELF | unix.IN_MOVE_SELF
	if _, err := unix.InotifyAddWatch(fd, dir, mask); err != nil {
		unix.Close(fd)
		return w
	}
	// Non-blocking, it joins the runtime's poller, so a deadline (the
	// context's end included) interrupts a read.
	w.f = os.NewFile(uintptr(fd), "inotify")
	w.buf = make([]byte, 64*(unix.SizeofInotifyEvent+unix.NAME_MAX+1))
	w.stop = context.AfterFunc(ctx, func() { w.f.SetReadDeadline(time.Unix(1, 0)) })
	return w
}

// Wait returns after a change, or when it is time to look at the
// container's status anyway: then status is true.
func (w *logWaiter) Wait(ctx context.Context) (status bool, err error) {
	if w.f == nil {
		select {
		case <-ctx.Done():
		case <-time.After(logPoll):
		}
		return true, nil
	}
	w.f.SetReadDeadline(time.Now().Add(logStatusCheck))
	if ctx.Err() != nil {
		return false, nil
	}
	n, err := w.f.Read(w.buf)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return ctx.Err() == nil, nil
	}
	if err != nil {
		return false, fmt.Errorf("watching the log: %w", err)
	}
	// Each event: wd, mask, cookie, len (4 bytes each), then len bytes
	// of name padded with NULs.
	for off := 0; off+unix.SizeofInotifyEvent <= n; {
		mask := binary.NativeEndian.Uint32(w.buf[off+4:])
		size := int(binary.NativeEndian.Uint32(w.buf[off+12:]))
		name := w.buf[off+unix.SizeofInotifyEvent : min(n, off+unix.SizeofInotifyEvent+size)]
		off += unix.SizeofInotifyEvent + size
		// A status change, the directory going away, or lost events.
		if string(bytes.TrimRight(name, "\x00")) == "status.json" ||
			mask&(unix.IN_Q_OVERFLOW|unix.IN_DELETE_SELF|unix.IN_MOVE_SELF|unix.IN_IGNORED) != 0 {
			status = true
		}
	}
	return status, nil
}

// Close releases the inotify instance.
func (w *logWaiter) Close() error {
	if w.f == nil {
		return nil
	}
	w.stop()
	return w.f.Close()
}
