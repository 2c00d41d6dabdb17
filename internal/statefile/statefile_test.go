package statefile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteJSONReplacesAtomically(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "rec.json")
	type rec struct{ A, B int }
	for _, tc := range []struct {
		name string
		o    Options
		want string
		perm fs.FileMode
	}{
		{"default", Options{}, `{"A":1,"B":2}`, 0o600},
		{"indented, readable, synced", Options{Perm: 0o644, Indent: "  ", Sync: true}, "{\n  \"A\": 1,\n  \"B\": 2\n}", 0o644},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := WriteJSON(path, rec{1, 2}, tc.o); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tc.want {
				t.Errorf("content %q, want %q", b, tc.want)
			}
			fi, _ := os.Stat(path)
			if fi.Mode().Perm() != tc.perm {
				t.Errorf("mode %v, want %v", fi.Mode().Perm(), tc.perm)
			}
			var got rec
			if err := ReadJSON(path, &got); err != nil || got != (rec{1, 2}) {
				t.Errorf("read back %+v, %v", got, err)
			}
			ents, _ := os.ReadDir(dir)
			if len(ents) != 1 {
				t.Errorf("%d files in the directory, want the record alone", len(ents))
			}
		})
	}
}

func TestWriteLeavesNothingOnFailure(t *testing.T) {
	dir := t.TempDir()
	// A directory where the record should go: the rename fails.
	path := filepath.Join(dir, "rec")
	if err := os.MkdirAll(filepath.Join(path, "x"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := Write(path, []byte("new"), Options{}); err == nil {
		t.Fatal("replacing a directory that is not empty succeeded")
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("%d entries left, want the directory alone", len(ents))
	}
}

func TestReadJSON(t *testing.T) {
	dir := t.TempDir()
	var v map[string]int
	if err := ReadJSON(filepath.Join(dir, "missing"), &v); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing record: %v, want fs.ErrNotExist", err)
	}
	bad := filepath.Join(dir, "bad")
	os.WriteFile(bad, []byte("{"), 0o600)
	if err := ReadJSON(bad, &v); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("damaged record: %v, want an error naming it", err)
	}
}

func TestLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	unlock, err := Lock(path)
	if err != nil {
		t.Fatal(err)
	}
	// flock locks belong to open file descriptions: another open of the
	// same file contends with the first, as another process would.
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if ok, err := TryLock(f); ok || err != nil {
		t.Fatalf("TryLock of a held lock: %t, %v", ok, err)
	}
	unlock()
	if ok, err := TryLock(f); !ok || err != nil {
		t.Fatalf("TryLock of a released lock: %t, %v", ok, err)
	}
}
