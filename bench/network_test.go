package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/busybox"
)

// TestPublishedVersusDirect measures connection setup rate and throughput
// to a container through its published port on 127.0.0.1 and straight to
// its address on the project bridge. Writes bench/results/network.json.
func TestPublishedVersusDirect(t *testing.T) {
	requireBench(t)
	bin := os.Getenv("BERTH_BINARY")
	root, state, dir := t.TempDir(), t.TempDir(), t.TempDir()
	out := filepath.Join(t.TempDir(), "netserver")
	b := exec.Command("go", "build", "-o", out, "./testdata/netserver")
	b.Env = append(os.Environ(), "CGO_ENABLED=0")
	if o, err := b.CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, o)
	}
	server, _ := os.ReadFile(out)
	tarball, err := busybox.TarBytes(busybox.Options{Files: map[string][]byte{"bin/netserver": server}})
	if err != nil {
		t.Fatal(err)
	}
	imp := exec.Command(bin, "--root", root, "--state", state, "image", "import", "-", "netbench")
	imp.Stdin = strings.NewReader(string(tarball))
	if o, err := imp.CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, o)
	}
	os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte("services:\n  s:\n    image: netbench\n    command: [\"netserver\"]\n    ports: [\"127.0.0.1::7000\", \"127.0.0.1::7001\"]\n"), 0o644)
	berthCmd(t, dir, root, state, "-p", "netbench", "up", "-d")
	defer berthCmd(t, dir, root, state, "-p", "netbench", "down")
	cmd := exec.Command(bin, "--root", root, "--state", state, "-p", "netbench", "ps", "--format", "json")
	cmd.Dir = dir
	psOut, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	var rows []struct {
		Publishers []struct{ TargetPort, PublishedPort int }
	}
	json.Unmarshal(psOut, &rows)
	pub := map[int]int{}
	for _, p := range rows[0].Publishers {
		pub[p.TargetPort] = p.PublishedPort
	}
	ipCmd := exec.Command(bin, "--root", root, "--state", state, "-p", "netbench", "exec", "-T", "s", "hostname", "-i")
	ipCmd.Dir = dir
	ipOut, err := ipCmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	ip := strings.Fields(string(ipOut))[0]
	res := map[string]any{"date": time.Now().UTC().Format(time.RFC3339)}
	for name, target := range map[string][2]string{
		"published": {fmt.Sprintf("127.0.0.1:%d", pub[7000]), fmt.Sprintf("127.0.0.1:%d", pub[7001])},
		"direct":    {ip + ":7000", ip + ":7001"},
	} {
		waitFor(t, target[0])
		res[name+"_connections_per_s"] = connRate(t, target[0], 3*time.Second)
		res[name+"_throughput_mib_s"] = throughput(t, target[1], 3*time.Second)
	}
	res["published_vs_direct_connections"] = round(res["published_connections_per_s"].(float64) / res["direct_connections_per_s"].(float64))
	res["published_vs_direct_throughput"] = round(res["published_throughput_mib_s"].(float64) / res["direct_throughput_mib_s"].(float64))
	writeResult(t, "network.json", res)
}

func waitFor(t *testing.T, addr string) {
	for i := 0; i < 200; i++ {
		if c, err := net.Dial("tcp4", addr); err == nil {
			c.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s never answered", addr)
}

// connRate opens, reads and closes connections for d, sequentially.
func connRate(t *testing.T, addr string, d time.Duration) float64 {
	n := 0
	buf := make([]byte, 8)
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		c, err := net.Dial("tcp4", addr)
		if err != nil {
			t.Fatal(err)
		}
		c.Read(buf)
		c.Close()
		n++
	}
	return round(float64(n) / d.Seconds())
}

// throughput reads a stream for d.
func throughput(t *testing.T, addr string, d time.Duration) float64 {
	c, err := net.Dial("tcp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(d))
	n, _ := io.Copy(io.Discard, c)
	return round(float64(n) / (1 << 20) / d.Seconds())
}
