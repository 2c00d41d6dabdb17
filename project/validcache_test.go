package project

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

func cacheEntries(t *testing.T, dir string) int {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

func TestValidCacheRemembersOnlyValidatedInput(t *testing.T) {
	dir, cache := t.TempDir(), t.TempDir()+"/valid"
	opts := LoadOptions{CacheDir: cache, Environ: []string{"TAG=1"}}
	write(t, dir, "compose.yaml", "services:\n  web:\n    image: nginx:${TAG}\n    ports: [\"8080:80\"]\n")

	first, err := load(t, dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	if n := cacheEntries(t, cache); n != 1 {
		t.Fatalf("%d cache entries after a valid load, want 1", n)
	}
	// The same input again loads the same model without the schema.
	again, err := load(t, dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(first.Services, again.Services) {
		t.Errorf("cached load differs:\n%v\n%v", first.Services, again.Services)
	}
	if n := cacheEntries(t, cache); n != 1 {
		t.Errorf("%d cache entries after loading the same input twice, want 1", n)
	}

	// Another environment is another input.
	if _, err := load(t, dir, LoadOptions{CacheDir: cache, Environ: []string{"TAG=2"}}); err != nil {
		t.Fatal(err)
	}
	if n := cacheEntries(t, cache); n != 2 {
		t.Errorf("%d cache entries after a second environment, want 2", n)
	}

	// An edited file is validated again, and an invalid one is reported
	// and never remembered.
	write(t, dir, "compose.yaml", "services:\n  web:\n    image: nginx:${TAG}\n    ports: [\"8080:80\"]\n    restart: 7\n")
	for range 2 {
		_, err := load(t, dir, opts)
		if err == nil || !strings.Contains(err.Error(), "restart") {
			t.Fatalf("edited invalid file: err = %v, want a message naming restart", err)
		}
	}
	if n := cacheEntries(t, cache); n != 2 {
		t.Errorf("%d cache entries after invalid loads, want 2", n)
	}
}

func TestValidCacheSkipsFilesThatPullInOthers(t *testing.T) {
	dir, cache := t.TempDir(), t.TempDir()+"/valid"
	write(t, dir, "base.yaml", "services:\n  base:\n    image: nginx\n")
	write(t, dir, "compose.yaml", "services:\n  web:\n    extends:\n      file: base.yaml\n      service: base\n")
	if _, err := load(t, dir, LoadOptions{CacheDir: cache}); err != nil {
		t.Fatal(err)
	}
	if n := cacheEntries(t, cache); n != 0 {
		t.Errorf("a file that extends another was remembered (%d entries)", n)
	}
	// What it extends turns invalid: the next load says so.
	write(t, dir, "base.yaml", "services:\n  base:\n    image: nginx\n    restart: 7\n")
	if _, err := load(t, dir, LoadOptions{CacheDir: cache}); err == nil {
		t.Error("invalid extended file accepted")
	}
}
