package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/berthdev/berth/runtime"
)

// TestStartLatency measures start-to-exit of `true` in the busybox image as
// users run it: `berth run --rm -T tests true` in a web application's
// stack (testdata/app: the project's default network, the database and
// cache it depends on already up, as after the first run), and `berth run
// --rm -T t true` of a service with network_mode: none; beside them `runc
// run` of the same root file system, and the runtime API. The commands
// take turns, so that a busy moment of the machine slows them alike; the
// figures are medians with their interquartile range, the ratios those of
// the medians. It writes bench/results/start.json.
func TestStartLatency(t *testing.T) {
	requireBench(t)
	const runs = 30
	bin := os.Getenv("BERTH_BINARY")
	if bin == "" {
		t.Fatal("BERTH_BINARY is not set")
	}
	layer := busyboxLayer(t)
	res := map[string]any{"runs": runs, "date": time.Now().UTC().Format(time.RFC3339), "loadavg_before": loadavg()}

	rt, err := runtime.Open(t.TempDir(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	api := func() {
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
	}

	root, state := t.TempDir(), t.TempDir()
	importImage(t, bin, root, state)
	app, none := copyTestdata(t, "app"), copyTestdata(t, "none")
	cli := func(dir, project string, args ...string) func() {
		return func() {
			cmd := exec.Command(bin, append([]string{"--root", root, "--state", state, "-p", project}, args...)...)
			cmd.Dir = dir
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("berth %v: %v: %s", args, err, out)
			}
		}
	}
	defer berthCmd(t, app, root, state, "-p", "benchapp", "down", "-v", "-t", "0")
	defer berthCmd(t, none, root, state, "-p", "benchnone", "down", "-t", "0")
	cmds := map[string]func(){
		"berth_api":         api,
		"berth_run_rm":      cli(app, "benchapp", "run", "--rm", "-T", "tests", "true"),
		"berth_run_rm_none": cli(none, "benchnone", "run", "--rm", "-T", "t", "true"),
	}
	if base := os.Getenv("BERTH_BASELINE"); base != "" {
		// Another berth binary (an earlier commit's), measured in the
		// same turns on roots of its own, for before-and-after ratios.
		broot, bstate := t.TempDir(), t.TempDir()
		importImage(t, base, broot, bstate)
		bcli := func(dir, project string, args ...string) func() {
			return func() {
				cmd := exec.Command(base, append([]string{"--root", broot, "--state", bstate, "-p", project}, args...)...)
				cmd.Dir = dir
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("baseline berth %v: %v: %s", args, err, out)
				}
			}
		}
		defer bcli(app, "baseapp", "down", "-v", "-t", "0")()
		defer bcli(none, "basenone", "down", "-t", "0")()
		cmds["baseline_run_rm"] = bcli(app, "baseapp", "run", "--rm", "-T", "tests", "true")
		cmds["baseline_run_rm_none"] = bcli(none, "basenone", "run", "--rm", "-T", "t", "true")
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
		cmds[name] = func() {
			cmd := exec.Command(path, "run", "--bundle", bundle, newID()[:16])
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("%s run: %v %s", name, err, out)
			}
		}
	}
	got := measureTurns(runs, cmds)
	for name, ds := range got {
		res[name+"_ms"] = ms(quantile(ds, 0.5))
		res[name+"_ms_iqr"] = []float64{ms(quantile(ds, 0.25)), ms(quantile(ds, 0.75))}
	}
	if runc, ok := got["runc"]; ok {
		for _, name := range []string{"berth_api", "berth_run_rm", "berth_run_rm_none", "baseline_run_rm", "baseline_run_rm_none"} {
			if ds, ok := got[name]; ok {
				res[name+"_vs_runc"] = round(float64(quantile(ds, 0.5)) / float64(quantile(runc, 0.5)))
			}
		}
	}
	res["loadavg_after"] = loadavg()
	writeResult(t, "start.json", res)
}

// measureTurns runs each command once for warm-up, then runs times in
// turns, all commands one after the other in each turn, in an order drawn
// anew for each turn: what the kernel finishes after a command returns
// (a network namespace is destroyed in the background) then slows each of
// the others alike, not always the one that follows it.
func measureTurns(runs int, cmds map[string]func()) map[string][]time.Duration {
	names := make([]string, 0, len(cmds))
	for n, f := range cmds {
		names = append(names, n)
		f()
	}
	sort.Strings(names)
	out := map[string][]time.Duration{}
	for i := 0; i < runs; i++ {
		mrand.Shuffle(len(names), func(a, b int) { names[a], names[b] = names[b], names[a] })
		for _, n := range names {
			start := time.Now()
			cmds[n]()
			out[n] = append(out[n], time.Since(start))
		}
	}
	return out
}

// quantile is the q-quantile of ds (nearest rank).
func quantile(ds []time.Duration, q float64) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, int(q*float64(len(s))))]
}

// loadavg is the machine's 1-minute load average, which says how busy it
// was while a benchmark ran.
func loadavg() float64 {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return -1
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

// copyTestdata copies testdata/NAME into a temp dir (the project's
// directory, whose name does not matter: every command names the project).
func copyTestdata(t *testing.T, name string) string {
	t.Helper()
	dst := t.TempDir()
	if err := os.CopyFS(dst, os.DirFS(filepath.Join("testdata", name))); err != nil {
		t.Fatal(err)
	}
	return dst
}

// TestKeeperMemory starts the 20 idle services of testdata/stack20 with the
// berth binary (`up -d`, the keepers that users get) and reports the
// memory of the processes that watch them, per container: PSS (the pages
// a process shares with others divided among them), and anonymous memory
// (what only it holds). It writes bench/results/keeper.json.
func TestKeeperMemory(t *testing.T) {
	requireBench(t)
	bin := os.Getenv("BERTH_BINARY")
	if bin == "" {
		t.Fatal("BERTH_BINARY is not set")
	}
	res := watcherMemory(t, bin)
	if base := os.Getenv("BERTH_BASELINE"); base != "" {
		for k, v := range watcherMemory(t, base) {
			res["baseline_"+k] = v
		}
	}
	res["date"] = time.Now().UTC().Format(time.RFC3339)
	res["note"] = "the processes that watch the containers of up -d (keepers; an earlier berth's monitors), 5 s after the start; PSS divides shared pages among their users, anon is memory only they hold, the rest of PSS is pages of the berth binary mapped from the page cache; baseline_ figures are those of BERTH_BASELINE's binary"
	writeResult(t, "keeper.json", res)
}

// watcherMemory measures the processes that a berth binary's `up -d` of
// testdata/stack20 leaves watching the containers.
func watcherMemory(t *testing.T, bin string) map[string]any {
	t.Helper()
	root, state := t.TempDir(), t.TempDir()
	importImage(t, bin, root, state)
	dir := copyTestdata(t, "stack20")
	run := func(args ...string) {
		cmd := exec.Command(bin, append([]string{"--root", root, "--state", state, "--progress", "quiet", "-p", "keepbench"}, args...)...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("berth %v: %v\n%s", args, err, out)
		}
	}
	run("up", "-d")
	defer run("down", "-t", "0")
	// Let the keepers settle into idle: each hands back what starting
	// took 3 s after the last container it started.
	time.Sleep(5 * time.Second)
	rt, err := runtime.Open(root, state)
	if err != nil {
		t.Fatal(err)
	}
	infos, err := rt.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	keepers := map[int]bool{}
	for _, info := range infos {
		var rec struct {
			MonitorPid int `json:"monitor_pid"`
		}
		raw, _ := os.ReadFile(filepath.Join(info.Dir, "status.json"))
		json.Unmarshal(raw, &rec)
		keepers[rec.MonitorPid] = true
	}
	var rss, pss, anon int
	for pid := range keepers {
		rss += memField(t, pid, "status", "VmRSS:")
		pss += memField(t, pid, "smaps_rollup", "Pss:")
		anon += memField(t, pid, "smaps_rollup", "Pss_Anon:")
	}
	n := float64(len(infos))
	return map[string]any{
		"containers":             len(infos),
		"keepers":                len(keepers),
		"pss_mib_per_container":  round(float64(pss) / 1024 / n),
		"anon_mib_per_container": round(float64(anon) / 1024 / n),
		"rss_mib_per_container":  round(float64(rss) / 1024 / n),
	}
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

func median(ds []time.Duration) time.Duration { return quantile(ds, 0.5) }

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
