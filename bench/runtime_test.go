package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/berthdev/berth/runtime"
)

// TestStartLatency measures start-to-exit of `true` in the busybox image,
// median of 20 runs: through the runtime API, through the berth CLI (a
// one-off container of a one-service project), and, when installed, by runc
// and crun on the same root file system. It writes bench/results/start.json.
func TestStartLatency(t *testing.T) {
	requireBench(t)
	const runs = 20
	layer := busyboxLayer(t)
	res := map[string]any{"runs": runs, "date": time.Now().UTC().Format(time.RFC3339)}

	rt, err := runtime.Open(t.TempDir(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	api := measure(t, runs, func() {
		id := newID()
		ctx := context.Background()
		if _, err := rt.Create(ctx, runtime.Spec{ID: id, Name: "b" + id[:8], Layers: []string{layer}, Args: []string{"true"}}); err != nil {
			t.Fatal(err)
		}
		if code, err := rt.Run(ctx, id, runtime.Stdio{}); err != nil || code != 0 {
			t.Fatal(code, err)
		}
		if err := rt.Remove(ctx, id, true); err != nil {
			t.Fatal(err)
		}
	})
	res["berth_api_ms"] = ms(api)

	if bin := os.Getenv("BERTH_BINARY"); bin != "" {
		root, state, dir := t.TempDir(), t.TempDir(), t.TempDir()
		importImage(t, bin, root, state)
		os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte("services:\n  t:\n    image: busybox:bench\n    network_mode: none\n"), 0o644)
		cli := measure(t, runs, func() {
			cmd := exec.Command(bin, "--root", root, "--state", state, "-p", "bench", "run", "--rm", "-T", "t", "true")
			cmd.Dir = dir
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("%v: %s", err, out)
			}
		})
		res["berth_cli_ms"] = ms(cli)
	}

	for _, name := range []string{"runc", "crun"} {
		path, err := exec.LookPath(name)
		if err != nil {
			continue
		}
		bundle := t.TempDir()
		if out, err := exec.Command(path, "spec", "--bundle", bundle).CombinedOutput(); err != nil {
			t.Fatalf("%s spec: %v %s", name, err, out)
		}
		patchSpec(t, filepath.Join(bundle, "config.json"), layer)
		if out, err := exec.Command(path, "run", "--bundle", bundle, newID()[:16]).CombinedOutput(); err != nil {
			// crun refuses cgroup v1 hosts with a v2 hierarchy beside.
			res[name+"_error"] = strings.TrimSpace(string(out))
			continue
		}
		d := measure(t, runs, func() {
			cmd := exec.Command(path, "run", "--bundle", bundle, newID()[:16])
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("%s run: %v %s", name, err, out)
			}
		})
		res[name+"_ms"] = ms(d)
		res["berth_api_vs_"+name] = round(float64(api) / float64(d))
		if cli, ok := res["berth_cli_ms"].(float64); ok {
			res["berth_cli_vs_"+name] = round(cli / ms(d))
		}
	}
	writeResult(t, "start.json", res)
}

// TestMonitorMemory starts 20 idle containers with the berth binary
// (`up -d`, the monitors that users get) and reports the resident memory
// of their monitors. It writes bench/results/monitor.json.
func TestMonitorMemory(t *testing.T) {
	requireBench(t)
	bin := os.Getenv("BERTH_BINARY")
	if bin == "" {
		t.Fatal("BERTH_BINARY is not set")
	}
	root, state, dir := t.TempDir(), t.TempDir(), t.TempDir()
	importImage(t, bin, root, state)
	var b strings.Builder
	b.WriteString("services:\n")
	for i := 0; i < 20; i++ {
		fmt.Fprintf(&b, "  s%02d:\n    image: busybox:bench\n    command: [\"sleep\", \"600\"]\n", i)
	}
	os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(b.String()), 0o644)
	berthCmd(t, dir, root, state, "-p", "monbench", "up", "-d")
	defer berthCmd(t, dir, root, state, "-p", "monbench", "down")
	// Let the monitors settle into idle: each hands back what starting
	// took 3 s after its container started.
	time.Sleep(5 * time.Second)
	rt, err := runtime.Open(root, state)
	if err != nil {
		t.Fatal(err)
	}
	infos, err := rt.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var rss, pss, anon []int
	for _, info := range infos {
		var rec struct {
			MonitorPid int `json:"monitor_pid"`
		}
		raw, _ := os.ReadFile(filepath.Join(info.Dir, "status.json"))
		json.Unmarshal(raw, &rec)
		rss = append(rss, memField(t, rec.MonitorPid, "status", "VmRSS:"))
		pss = append(pss, memField(t, rec.MonitorPid, "smaps_rollup", "Pss:"))
		anon = append(anon, memField(t, rec.MonitorPid, "smaps_rollup", "Pss_Anon:"))
	}
	writeResult(t, "monitor.json", map[string]any{
		"containers":      len(rss),
		"median_rss_mib":  medianMiB(rss),
		"median_pss_mib":  medianMiB(pss),
		"median_anon_mib": medianMiB(anon),
		"date":            time.Now().UTC().Format(time.RFC3339),
		"note":            "monitors of the berth binary started by up -d; RSS counts the binary's pages that all monitors share, PSS divides them among their users, anon is memory only this monitor holds",
	})
}

func medianMiB(v []int) float64 {
	sort.Ints(v)
	return round(float64(v[len(v)/2]) / 1024)
}

// memField reads a kB figure from /proc/PID/FILE.
func memField(t *testing.T, pid int, file, field string) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/%s", pid, file))
	if err != nil {
		t.Fatalf("monitor %d: %v", pid, err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, field); ok {
			n, _ := strconv.Atoi(strings.Fields(v)[0])
			return n
		}
	}
	return 0
}

func measure(t *testing.T, runs int, f func()) time.Duration {
	t.Helper()
	f() // warm caches
	var ds []time.Duration
	for i := 0; i < runs; i++ {
		start := time.Now()
		f()
		ds = append(ds, time.Since(start))
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return ds[len(ds)/2]
}

func ms(d time.Duration) float64 { return round(float64(d) / float64(time.Millisecond)) }

func round(f float64) float64 { return float64(int(f*100+0.5)) / 100 }

func newID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// patchSpec points a `runc spec` config at rootfs and makes it run `true`
// without a terminal.
func patchSpec(t *testing.T, path, rootfs string) {
	var spec map[string]any
	b, _ := os.ReadFile(path)
	if err := json.Unmarshal(b, &spec); err != nil {
		t.Fatal(err)
	}
	spec["root"] = map[string]any{"path": rootfs, "readonly": true}
	p := spec["process"].(map[string]any)
	p["terminal"] = false
	p["args"] = []string{"true"}
	b, _ = json.Marshal(spec)
	os.WriteFile(path, b, 0o644)
}

func importImage(t *testing.T, bin, root, state string) {
	t.Helper()
	cmd := exec.Command(bin, "--root", root, "--state", state, "image", "import", "-", "busybox:bench")
	tarball := busyboxTar(t)
	cmd.Stdin = strings.NewReader(string(tarball))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("image import: %v %s", err, out)
	}
}
