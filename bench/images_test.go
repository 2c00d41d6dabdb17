package bench

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func berthCmd(t *testing.T, dir, root, state string, args ...string) time.Duration {
	t.Helper()
	cmd := exec.Command(os.Getenv("BERTH_BINARY"), append([]string{"--root", root, "--state", state, "--progress", "quiet"}, args...)...)
	cmd.Dir = dir
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("berth %v: %v\n%s", args, err, out)
	}
	return time.Since(start)
}

// TestCachedRebuild builds a 10-step Dockerfile, then measures the fully
// cached rebuild (median of 10). Writes bench/results/build.json.
func TestCachedRebuild(t *testing.T) {
	requireBench(t)
	root, state, dir := t.TempDir(), t.TempDir(), t.TempDir()
	importImage(t, os.Getenv("BERTH_BINARY"), root, state)
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(`FROM busybox:bench
ENV A=1
WORKDIR /app
COPY a.txt .
RUN echo one > /app/one
COPY b.txt .
RUN echo two > /app/two
LABEL step=8
EXPOSE 8080
CMD ["cat", "/app/a.txt"]
`), 0o644)
	os.WriteFile(filepath.Join(dir, "a.txt"), bytes.Repeat([]byte("a"), 1<<20), 0o644)
	os.WriteFile(filepath.Join(dir, "b.txt"), []byte("b"), 0o644)
	first := berthCmd(t, dir, root, state, "build", "-t", "bench/app", ".")
	var ds []time.Duration
	for i := 0; i < 10; i++ {
		ds = append(ds, berthCmd(t, dir, root, state, "build", "-t", "bench/app", "."))
	}
	writeResult(t, "build.json", map[string]any{"steps": 10, "first_build_ms": ms(first), "cached_rebuild_ms_median": ms(median(ds)), "date": time.Now().UTC().Format(time.RFC3339)})
}

// TestPullThroughput pushes a 3-layer image of 3×32 MiB (incompressible)
// to Debian's docker-registry on loopback and measures pulls against the
// raw blob size. Writes bench/results/pull.json.
func TestPullThroughput(t *testing.T) {
	requireBench(t)
	if _, err := exec.LookPath("docker-registry"); err != nil {
		t.Fatal("docker-registry not installed")
	}
	l, _ := net.Listen("tcp4", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	regDir := t.TempDir()
	cfg := fmt.Sprintf("version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: %s\n", regDir, addr)
	os.WriteFile(filepath.Join(regDir, "config.yml"), []byte(cfg), 0o644)
	reg := exec.Command("docker-registry", "serve", filepath.Join(regDir, "config.yml"))
	if err := reg.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { reg.Process.Kill(); reg.Wait() }()
	for i := 0; i < 200; i++ {
		if r, err := http.Get("http://" + addr + "/v2/"); err == nil {
			r.Body.Close()
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	root, state, dir := t.TempDir(), t.TempDir(), t.TempDir()
	importImage(t, os.Getenv("BERTH_BINARY"), root, state)
	var df strings.Builder
	df.WriteString("FROM busybox:bench\n")
	for i := 0; i < 3; i++ {
		fmt.Fprintf(&df, "RUN head -c 33554432 /dev/urandom > /blob%d\n", i)
	}
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df.String()), 0o644)
	ref := addr + "/bench/big:1"
	berthCmd(t, dir, root, state, "build", "-t", ref, ".")
	berthCmd(t, dir, root, state, "image", "push", ref)
	var size int64
	blobs, _ := filepath.Glob(filepath.Join(root, "images", "blobs", "sha256", "*"))
	for _, b := range blobs {
		if fi, err := os.Stat(b); err == nil {
			size += fi.Size()
		}
	}
	var ds []time.Duration
	for i := 0; i < 3; i++ {
		r2, s2 := t.TempDir(), t.TempDir()
		ds = append(ds, berthCmd(t, dir, r2, s2, "image", "pull", "-q", ref))
	}
	d := median(ds)
	writeResult(t, "pull.json", map[string]any{"bytes_in_store": size, "pull_ms_median": ms(d),
		"throughput_mib_s": round(float64(size) / (1 << 20) / d.Seconds()), "note": "includes unpacking every layer into its snapshot",
		"date": time.Now().UTC().Format(time.RFC3339)})
}
