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
// grows linearly. With BERTH_BASELINE, another berth binary takes its turns
// too. It writes bench/results/stack.json.
func TestStackUpDown(t *testing.T) {
	requireBench(t)
	bin := os.Getenv("BERTH_BINARY")
	if bin == "" {
		t.Fatal("BERTH_BINARY is not set")
	}
	// BERTH_BASELINE names another berth binary (an earlier commit's),
	// measured in the same turns on roots of its own.
	bins := map[string]string{"": bin}
	if base := os.Getenv("BERTH_BASELINE"); base != "" {
		bins["baseline_"] = base
	}
	roots := map[string][2]string{}
	for prefix, b := range bins {
		root, state := t.TempDir(), t.TempDir()
		importImage(t, b, root, state)
		roots[prefix] = [2]string{root, state}
	}
	res := map[string]any{"date": time.Now().UTC().Format(time.RFC3339), "loadavg_before": loadavg()}
	for _, n := range []int{1, 20, 100} {
		dir := copyTestdata(t, fmt.Sprintf("stack%d", n))
		project := fmt.Sprintf("stack%d", n)
		berth := func(prefix string, args ...string) time.Duration {
			cmd := exec.Command(bins[prefix], append([]string{"--root", roots[prefix][0], "--state", roots[prefix][1], "-p", project, "--progress", "quiet"}, args...)...)
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
		ups, downs := map[string][]time.Duration{}, map[string][]time.Duration{}
		// A first round makes the network and fills the caches a user's
		// machine has warm.
		for prefix := range bins {
			berth(prefix, "up", "-d")
			berth(prefix, "down", "-t", "0")
		}
		for i := 0; i < runs; i++ {
			for prefix := range bins {
				ups[prefix] = append(ups[prefix], berth(prefix, "up", "-d"))
				downs[prefix] = append(downs[prefix], berth(prefix, "down", "-t", "0"))
			}
		}
		key := fmt.Sprintf("%d", n)
		for prefix := range bins {
			u, d := ups[prefix], downs[prefix]
			res[prefix+"up_ms_"+key] = ms(quantile(u, 0.5))
			res[prefix+"up_ms_range_"+key] = []float64{ms(quantile(u, 0)), ms(quantile(u, 1))}
			res[prefix+"down_ms_"+key] = ms(quantile(d, 0.5))
			res[prefix+"down_ms_range_"+key] = []float64{ms(quantile(d, 0)), ms(quantile(d, 1))}
			res[prefix+"up_ms_per_service_"+key] = round(ms(quantile(u, 0.5)) / float64(n))
			res[prefix+"down_ms_per_service_"+key] = round(ms(quantile(d, 0.5)) / float64(n))
		}
		res["runs_"+key] = runs
	}
	res["loadavg_after"] = loadavg()
	writeResult(t, "stack.json", res)
}
