package acceptance

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/berthdev/berth/internal/busybox"
)

// TestBesideDocker does to the host what a Docker engine does when it
// starts (Docker itself cannot run here): the iptables FORWARD policy
// becomes DROP, and br_netfilter hands bridged traffic to iptables. berth's
// bridges must keep working: between containers, out to another host,
// from another host to a published port, and hairpin. It runs once with
// the host's default iptables, changed after `up` (a Docker started
// later), and once with the other variant if installed, changed before.
func TestBesideDocker(t *testing.T) {
	requireRoot(t)
	variants := installedIptables(t)
	if len(variants) == 0 {
		t.Fatal("no iptables command: install Debian's iptables package")
	}
	for i, x := range variants {
		t.Run(x.name, func(t *testing.T) { besideDocker(t, x, i == 0) })
	}
}

type iptablesCmd struct{ name, bin string }

// installedIptables lists `iptables` and then the variant it is not
// (iptables-legacy beside iptables-nft, or the reverse), where installed.
func installedIptables(t *testing.T) []iptablesCmd {
	t.Helper()
	bin, err := exec.LookPath("iptables")
	if err != nil {
		return nil
	}
	v, err := exec.Command(bin, "-V").Output()
	if err != nil {
		t.Fatalf("iptables -V: %v", err)
	}
	out := []iptablesCmd{{"iptables", bin}}
	other := "iptables-nft"
	if bytes.Contains(v, []byte("nf_tables")) {
		other = "iptables-legacy"
	}
	if p, err := exec.LookPath(other); err == nil {
		out = append(out, iptablesCmd{other, p})
	}
	return out
}

func besideDocker(t *testing.T, x iptablesCmd, afterUp bool) {
	e := newEnv(t)
	e.importBusybox("bb", busybox.Options{})
	nb := newNeighbour(t)
	outsidePort := nb.serve(t, "outside\n")
	e.writeFile("compose.yaml", `
services:
  web:
    image: bb
    command: ["sh", "-c", "echo web > /tmp/index.html; exec httpd -f -p 80 -h /tmp"]
    ports: ["80"]
  client:
    image: bb
    command: sleep 1000
`)
	if afterUp {
		e.must("up", "-d")
		dockerStarts(t, x)
	} else {
		dockerStarts(t, x)
		e.must("up", "-d")
	}
	port := e.byService(e.ps())["web"].Publishers[0].PublishedPort
	gw := gatewayOf(t, e, "client")
	bridge := interfaceOfAddress(t, gw)
	wget := func(what, url, want string) {
		t.Helper()
		r := e.berth("exec", "-T", "client", "timeout", "5", "wget", "-q", "-O", "-", url)
		if r.Code != 0 || r.Stdout != want {
			t.Errorf("%s (%s): exit %d, %q %s", what, url, r.Code, r.Stdout, r.Stderr)
		}
	}
	wget("container to container on the project bridge", "http://web/", "web\n")
	wget("container to a published port through the host (hairpin)", fmt.Sprintf("http://%s:%d/", gw, port), "web\n")
	wget("container out to another host", fmt.Sprintf("http://%s:%d/", nb.NSIP, outsidePort), "outside\n")
	if body, err := nb.get(t, fmt.Sprintf("http://%s:%d/", nb.HostIP, port)); err != nil || body != "web\n" {
		t.Errorf("another host to a published port: %q %v", body, err)
	}
	if body := httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/", port)); body != "web\n" {
		t.Errorf("the host to a published port: %q", body)
	}
	e.must("down", "-t", "1")
	for _, bin := range []string{"iptables-nft", "iptables-legacy"} {
		if out, err := exec.Command(bin, "-w", "-S", "FORWARD").Output(); err == nil && strings.Contains(string(out), bridge) {
			t.Errorf("%s FORWARD rules of %s left after down:\n%s", bin, bridge, out)
		}
	}
}

// dockerStarts does to the host what a starting Docker engine does to
// other bridges, and restores the host's settings when the test ends.
func dockerStarts(t *testing.T, x iptablesCmd) {
	t.Helper()
	out, err := exec.Command(x.bin, "-w", "-S", "FORWARD").Output()
	if err != nil {
		t.Fatalf("%s -S FORWARD: %v", x.name, err)
	}
	policy := ""
	for _, l := range strings.Split(string(out), "\n") {
		if f := strings.Fields(l); len(f) == 3 && f[0] == "-P" && f[1] == "FORWARD" {
			policy = f[2]
		}
	}
	if policy == "" {
		t.Fatalf("%s: no FORWARD policy in\n%s", x.name, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command(x.bin, "-w", "-P", "FORWARD", policy).CombinedOutput(); err != nil {
			t.Errorf("restoring the FORWARD policy %s: %v\n%s", policy, err, out)
		}
	})
	if out, err := exec.Command(x.bin, "-w", "-P", "FORWARD", "DROP").CombinedOutput(); err != nil {
		t.Fatalf("%s -P FORWARD DROP: %v\n%s", x.name, err, out)
	}
	const nfCall = "/proc/sys/net/bridge/bridge-nf-call-iptables"
	if _, err := os.Stat(nfCall); err != nil {
		if out, err := exec.Command("modprobe", "br_netfilter").CombinedOutput(); err != nil {
			t.Logf("br_netfilter not covered: it cannot be loaded (%v %s)", err, bytes.TrimSpace(out))
			return
		}
	}
	prev, err := os.ReadFile(nfCall)
	if err != nil {
		t.Logf("br_netfilter not covered: %v", err)
		return
	}
	t.Cleanup(func() {
		if err := os.WriteFile(nfCall, prev, 0o644); err != nil {
			t.Errorf("restoring %s: %v", nfCall, err)
		}
	})
	if err := os.WriteFile(nfCall, []byte("1"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("FORWARD policy DROP (was %s) in %s, bridge-nf-call-iptables=1 (was %s)", policy, x.name, bytes.TrimSpace(prev))
}

// interfaceOfAddress is the host interface that holds addr.
func interfaceOfAddress(t *testing.T, addr string) string {
	t.Helper()
	out, err := exec.Command("ip", "-4", "-o", "addr", "show").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(out), "\n") {
		if f := strings.Fields(l); len(f) >= 4 && strings.HasPrefix(f[3], addr+"/") {
			return f[1]
		}
	}
	t.Fatalf("no host interface holds %s", addr)
	return ""
}
