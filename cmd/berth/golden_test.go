package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

// update rewrites the golden files with what the printers print now:
// go test ./cmd/berth -run TestPrinters -update, then read the diff.
var update = flag.Bool("update", false, "rewrite testdata/*.golden with the output of the printers")

// golden compares got with testdata/name.golden.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to write it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from what was printed (run with -update to accept it):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}
