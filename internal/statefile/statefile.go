// Package statefile keeps berth's records on disk: files replaced
// atomically, so that a reader, or a berth started after a crash, finds
// the old content or the new and never a part of either, and the lock
// files that make a read-modify-write of such records one step across
// processes.
//
// A record is written to a temporary file beside it and renamed over it.
// Where losing a record after a power cut loses more than the record (the
// image index names every image, a volume's record its options), Sync
// also flushes the file and then its directory, as the blobs the index
// names are flushed; records the runtime rewrites many times a second
// (a container's status) or that are only caches do without.
package statefile

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Options say how a record is written.
type Options struct {
	// Perm is the record's mode; 0o600 when zero.
	Perm fs.FileMode
	// Indent, when set, writes JSON with each level indented by it.
	Indent string
	// Sync makes the new content durable before Write returns: the file
	// is flushed before the rename, the directory after.
	Sync bool
}

// Write replaces the file at path with data, atomically.
func Write(path string, data []byte, o Options) error {
	tmp, err := writeTemp(path, data, o)
	if err != nil {
		return err
	}
	if o.Sync {
		if err := tmp.Sync(); err != nil {
			return discard(tmp, err)
		}
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if o.Sync {
		return syncDir(filepath.Dir(path))
	}
	return nil
}

// WriteDeferred replaces the file at path with data, atomically, as Write
// without Sync does, and returns flush, which makes the new content durable
// as Sync would have before Write returned. A caller that writes under a
// lock calls flush after releasing it, so that other writers do not queue
// behind the disk; the record is durable once flush returns, as with Sync.
// The file is flushed after the rename, which is as safe: until then a
// crash finds the old content or the new, and a reader finds the new.
func WriteDeferred(path string, data []byte, o Options) (flush func() error, err error) {
	tmp, err := writeTemp(path, data, o)
	if err != nil {
		return nil, err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return nil, discard(tmp, err)
	}
	return func() error {
		defer tmp.Close()
		if err := tmp.Sync(); err != nil {
			return fmt.Errorf("flushing %s: %w", path, err)
		}
		return syncDir(filepath.Dir(path))
	}, nil
}

// writeTemp writes data to a new temporary file beside path, with the
// record's mode, and returns it open.
func writeTemp(path string, data []byte, o Options) (*os.File, error) {
	perm := o.Perm
	if perm == 0 {
		perm = 0o600
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-")
	if err != nil {
		return nil, err
	}
	// CreateTemp makes the file 0600; the mode is set on the descriptor
	// (so that no umask applies) before any reader can see the file.
	if perm != 0o600 {
		if err := tmp.Chmod(perm); err != nil {
			return nil, discard(tmp, err)
		}
	}
	if _, err := tmp.Write(data); err != nil {
		return nil, discard(tmp, err)
	}
	return tmp, nil
}

// discard closes and removes a temporary file that will not replace its
// record, and returns err.
func discard(tmp *os.File, err error) error {
	tmp.Close()
	os.Remove(tmp.Name())
	return err
}

// WriteJSON replaces the file at path with v encoded as JSON, atomically.
func WriteJSON(path string, v any, o Options) error {
	var b []byte
	var err error
	if o.Indent != "" {
		b, err = json.MarshalIndent(v, "", o.Indent)
	} else {
		b, err = json.Marshal(v)
	}
	if err != nil {
		return fmt.Errorf("encoding %s: %w", filepath.Base(path), err)
	}
	return Write(path, b, o)
}

// ReadJSON decodes the JSON record at path into v. An error reading the
// file is returned as it is, so that callers can tell a missing record
// (fs.ErrNotExist) from a damaged one.
func ReadJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	return nil
}

// syncDir flushes a directory, and with it the names a rename gave its
// entries.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("flushing %s: %w", dir, err)
	}
	return nil
}
