package bench

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"
)

// TestStackUpDown measures `up -d` and `down -t 0` of the idle stacks of
// testdata/stack1, stack20 and stack100 (busybox `sleep`, the project's
// default network), as users type them, several runs each; the figures are
// medians with their range, and the cost per service shows whether it
// grows linearly. It writes bench/results/stack.json.
func TestStackUpDown(t *testing.T) {
	requireBench(t)
	bin := os.Getenv("BERTH_BINARY")
	if bin == "" {
		t.Fatal("BERTH_BINARY is not set")
	}
	root, state := t.TempDir(), t.TempDir()
	importImage(t, bin, root, state)
	res := map[string]any{"date": time.Now().UTC().Format(time.RFC3339), "loadavg_before": loadavg()}
	for _, n := range []int{1, 20, 100} {
		dir := copyTestdata(t, fmt.Sprintf("stack%d", n))
		project := fmt.Sprintf("stack%d", n)
		berth := func(args ...string) time.Duration {
			cmd := exec.Command(bin, append([]string{"--root", root, "--state", state, "-p", project, "--progress", "quiet"}, args...)...)
			cmd.Dir = dir
			start := time.Now()
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("berth %v: %v\n%s", args, err, out)
			}
			return time.Since(start)
		}
		runs := 7
		if n == 100 {
			runs = 3
		}
		// A first round makes the network and fills the caches a user's
		// machine has warm.
		berth("up", "-d")
		berth("down", "-t", "0")
		var ups, downs []time.Duration
		for i := 0; i < runs; i++ {
			ups = append(ups, berth("up", "-d"))
			downs = append(downs, berth("down", "-t", "0"))
		}
		key := fmt.Sprintf("%d", n)
		res["up_ms_"+key] = ms(quantile(ups, 0.5))
		res["up_ms_range_"+key] = []float64{ms(quantile(ups, 0)), ms(quantile(ups, 1))}
		res["down_ms_"+key] = ms(quantile(downs, 0.5))
		res["down_ms_range_"+key] = []float64{ms(quantile(downs, 0)), ms(quantile(downs, 1))}
		res["up_ms_per_service_"+key] = round(ms(quantile(ups, 0.5)) / float64(n))
		res["down_ms_per_service_"+key] = round(ms(quantile(downs, 0.5)) / float64(n))
		res["runs_"+key] = runs
	}
	res["loadavg_after"] = loadavg()
	writeResult(t, "stack.json", res)
}
