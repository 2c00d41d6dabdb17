package bench

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// throwawayBench is the benchmark's stack: two dependencies, one with a
// health check the test waits for, and a test service that runs `true`.
const throwawayBench = `services:
  db:
    image: busybox:bench
    command: ["sh", "-c", "mkdir -p /www && echo ok > /www/index.html && exec httpd -f -p 80 -h /www"]
    ports: ["8080:80"]
    healthcheck:
      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1/"]
      interval: 1s
      start_interval: 50ms
      start_period: 30s
  cache:
    image: busybox:bench
    command: ["sleep", "600"]
  tests:
    image: busybox:bench
    depends_on:
      db: {condition: service_healthy}
      cache: {condition: service_started}
    command: ["true"]
`

// TestThrowawayCycle measures `berth test` from nothing to the exit code
// and nothing left, median of 10 runs one after another, and the wall time
// of 8 runs at once; after every run it checks that nothing of the stack
// is left. It writes bench/results/throwaway.json.
func TestThrowawayCycle(t *testing.T) {
	requireBench(t)
	bin := os.Getenv("BERTH_BINARY")
	if bin == "" {
		t.Fatal("BERTH_BINARY is not set")
	}
	root, state, dir := t.TempDir(), t.TempDir(), t.TempDir()
	importImage(t, bin, root, state)
	os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(throwawayBench), 0o644)
	type record struct {
		ExitCode  int              `json:"exit_code"`
		Durations map[string]int64 `json:"durations_ms"`
		Removed   bool             `json:"removed"`
	}
	run := func() (time.Duration, record) {
		cmd := exec.Command(bin, "--root", root, "--state", state, "-p", "bench", "--progress", "quiet", "test", "--json", "tests")
		cmd.Dir = dir
		start := time.Now()
		out, err := cmd.Output()
		d := time.Since(start)
		var rec record
		if err != nil || json.Unmarshal(out, &rec) != nil || rec.ExitCode != 0 || !rec.Removed {
			t.Fatalf("berth test: %v\n%s", err, out)
		}
		return d, rec
	}
	nothingLeft := func() {
		for _, sub := range []string{"containers", "volumes", "projects"} {
			ents, _ := os.ReadDir(filepath.Join(root, sub))
			for _, e := range ents {
				if e.Name() != ".lock" {
					t.Fatalf("left in %s: %s", sub, e.Name())
				}
			}
		}
	}
	run() // warms the page cache and berth's cache of validated compose files
	nothingLeft()
	var walls, setups, tests, teardowns []time.Duration
	for range 10 {
		d, rec := run()
		nothingLeft()
		walls = append(walls, d)
		setups = append(setups, time.Duration(rec.Durations["setup"])*time.Millisecond)
		tests = append(tests, time.Duration(rec.Durations["test"])*time.Millisecond)
		teardowns = append(teardowns, time.Duration(rec.Durations["teardown"])*time.Millisecond)
	}
	start := time.Now()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var slowest time.Duration
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command(bin, "--root", root, "--state", state, "-p", "bench", "--progress", "quiet", "test", "tests")
			cmd.Dir = dir
			s := time.Now()
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("a parallel run: %v\n%s", err, out)
			}
			mu.Lock()
			slowest = max(slowest, time.Since(s))
			mu.Unlock()
		}()
	}
	wg.Wait()
	parallel := time.Since(start)
	nothingLeft()
	writeResult(t, "throwaway.json", map[string]any{
		"date":                    time.Now().UTC().Format(time.RFC3339),
		"stack":                   "2 dependencies (one with a health check, 50 ms start interval) + a test service running true",
		"runs":                    10,
		"cycle_ms_median":         ms(median(walls)),
		"cycle_ms_min":            ms(minimum(walls)),
		"cycle_ms_max":            ms(maximum(walls)),
		"setup_ms_median":         ms(median(setups)),
		"test_ms_median":          ms(median(tests)),
		"teardown_ms_median":      ms(median(teardowns)),
		"parallel_runs":           8,
		"parallel_wall_ms":        ms(parallel),
		"parallel_slowest_ms":     ms(slowest),
		"parallel_nothing_left":   true,
		"sequential_ms_at_median": ms(8 * median(walls)),
	})
}

func minimum(ds []time.Duration) time.Duration {
	m := ds[0]
	for _, d := range ds {
		m = min(m, d)
	}
	return m
}

func maximum(ds []time.Duration) time.Duration {
	m := ds[0]
	for _, d := range ds {
		m = max(m, d)
	}
	return m
}
