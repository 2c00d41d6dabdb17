package bench

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestStackUpDown measures `up -d` and `down` of a 20-service stack of
// busybox `sleep`, median of 5 runs, each on its own project network, and
// the same with network_mode: none to show what networking adds. It writes
// bench/results/stack.json.
func TestStackUpDown(t *testing.T) {
	requireBench(t)
	bin := os.Getenv("BERTH_BINARY")
	if bin == "" {
		t.Fatal("BERTH_BINARY is not set")
	}
	root, state := t.TempDir(), t.TempDir()
	importImage(t, bin, root, state)
	res := map[string]any{"services": 20, "runs": 5, "date": time.Now().UTC().Format(time.RFC3339)}
	for _, mode := range []string{"bridge", "none"} {
		dir := t.TempDir()
		var b strings.Builder
		b.WriteString("services:\n")
		for i := 0; i < 20; i++ {
			fmt.Fprintf(&b, "  s%02d:\n    image: busybox:bench\n    command: [\"sleep\", \"600\"]\n", i)
			if mode == "none" {
				b.WriteString("    network_mode: none\n")
			}
		}
		os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(b.String()), 0o644)
		berth := func(args ...string) time.Duration {
			cmd := exec.Command(bin, append([]string{"--root", root, "--state", state, "-p", "bench" + mode, "--progress", "quiet"}, args...)...)
			cmd.Dir = dir
			start := time.Now()
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("berth %v: %v\n%s", args, err, out)
			}
			return time.Since(start)
		}
		var ups, downs []time.Duration
		for i := 0; i < 5; i++ {
			ups = append(ups, berth("up", "-d"))
			downs = append(downs, berth("down"))
		}
		res["up_ms_"+mode] = ms(median(ups))
		res["down_ms_"+mode] = ms(median(downs))
	}
	writeResult(t, "stack.json", res)
}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration{}, ds...)
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
	return s[len(s)/2]
}
