package acceptance

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/busybox"
)

// busybox-static's wget crashes with -T (Debian's 1.35 build); timeout
// bounds the waits instead.

// gatewayOf is an address of the host other than loopback: the gateway
// of one of the test's own bridges.
func gatewayOf(t *testing.T, e *env, service string) string {
	t.Helper()
	out := e.must("exec", "-T", service, "ip", "route")
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) >= 3 && f[0] == "default" && f[1] == "via" {
			return f[2]
		}
	}
	t.Fatalf("no default route in %s:\n%s", service, out)
	return ""
}

func TestPublishedPortsTCPAndUDPAndHairpin(t *testing.T) {
	e := newEnv(t)
	e.importBusybox("bb", busybox.Options{Files: map[string][]byte{"bin/udpecho": staticBinary(t, "./testdata/udpecho")}})
	e.writeFile("compose.yaml", `
services:
  web:
    image: bb
    command: ["sh", "-c", "echo tcp-ok > /tmp/index.html; exec httpd -f -p 80 -h /tmp"]
    ports: ["80"]
  echo:
    image: bb
    command: ["udpecho", "5353"]
    ports: ["5353/udp"]
  client:
    image: bb
    command: sleep 1000
`)
	e.must("up", "-d")
	rows := e.byService(e.ps())
	port := rows["web"].Publishers[0].PublishedPort
	if body := httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/", port)); body != "tcp-ok\n" {
		t.Errorf("127.0.0.1: %q", body)
	}
	gw := gatewayOf(t, e, "client")
	if body := httpGet(t, fmt.Sprintf("http://%s:%d/", gw, port)); body != "tcp-ok\n" {
		t.Errorf("host address %s: %q", gw, body)
	}
	// Hairpin: a container reaches the published port through the host.
	out := e.must("exec", "-T", "client", "timeout", "3", "wget", "-q", "-O", "-", fmt.Sprintf("http://%s:%d/", gw, port))
	if out != "tcp-ok\n" {
		t.Errorf("hairpin: %q", out)
	}
	if got := e.must("port", "web", "80"); got != fmt.Sprintf("0.0.0.0:%d\n", port) {
		t.Errorf("berth port: %q", got)
	}
	udp := rows["echo"].Publishers[0].PublishedPort
	e.eventually(10*time.Second, "a UDP reply through the published port", func() bool {
		c, err := net.Dial("udp", fmt.Sprintf("127.0.0.1:%d", udp))
		if err != nil {
			return false
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(300 * time.Millisecond))
		c.Write([]byte("hello"))
		buf := make([]byte, 64)
		n, _ := c.Read(buf)
		return string(buf[:n]) == "udp-ok: hello"
	})
	e.must("down", "-t", "1")
}

func TestHostPortInUseRefusedBeforeStart(t *testing.T) {
	e := newEnv(t)
	e.importBusybox("bb", busybox.Options{})
	l, err := net.Listen("tcp4", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	e.writeFile("compose.yaml", fmt.Sprintf("services:\n  a:\n    image: bb\n    command: sleep 1000\n  web:\n    image: bb\n    command: sleep 1000\n    ports: [\"%d:80\"]\n", port))
	r := e.berth("up", "-d")
	if r.Code == 0 || !strings.Contains(r.Stderr, fmt.Sprint(port)) || !strings.Contains(r.Stderr, "web") {
		t.Errorf("port in use: %d %s", r.Code, r.Stderr)
	}
	if ents, _ := os.ReadDir(filepath.Join(e.Root, "containers")); len(ents) > 1 {
		t.Errorf("containers created although the port was taken: %v", ents)
	}
}

func TestScaledReplicasAndAliases(t *testing.T) {
	e := newEnv(t)
	e.importBusybox("bb", busybox.Options{})
	e.writeFile("compose.yaml", `
services:
  api:
    image: bb
    command: ["sh", "-c", "hostname > /tmp/index.html; exec httpd -f -p 80 -h /tmp"]
    deploy:
      replicas: 3
    networks:
      default:
        aliases: [backend]
  client:
    image: bb
    command: sleep 1000
`)
	e.must("up", "-d")
	// Every container knows every peer once up is done, whichever
	// started first.
	for _, svc := range []string{"api", "client"} {
		hosts := e.must("exec", "-T", svc, "cat", "/etc/hosts")
		for _, peer := range []string{"-api-1", "-api-2", "-api-3", "-client-1"} {
			if !strings.Contains(hosts, e.Project+peer) {
				t.Errorf("%s's /etc/hosts lacks %s:\n%s", svc, e.Project+peer, hosts)
			}
		}
	}
	seen := map[string]bool{}
	for i := 1; i <= 3; i++ {
		out := e.must("exec", "-T", "client", "timeout", "3", "wget", "-q", "-O", "-", fmt.Sprintf("http://api-%d/", i))
		seen[strings.TrimSpace(out)] = true
	}
	if len(seen) != 3 {
		t.Errorf("replicas answering: %v", seen)
	}
	// The service name resolves to every replica (the embedded name
	// server returns them all, rotating), and each of those answers.
	addrs := lookupAll(t, e, "client", "api")
	if len(addrs) != 3 {
		t.Errorf("api resolves to %v, want 3 addresses", addrs)
	}
	spread := map[string]bool{}
	for _, a := range addrs {
		out := e.must("exec", "-T", "client", "timeout", "3", "wget", "-q", "-O", "-", "http://"+a+"/")
		spread[strings.TrimSpace(out)] = true
	}
	if len(spread) != 3 {
		t.Errorf("the service name's addresses reached %v", spread)
	}
	e.must("exec", "-T", "client", "timeout", "3", "wget", "-q", "-O", "/dev/null", "http://backend/")
	// Scaling down takes names away.
	e.must("up", "-d", "--scale", "api=1")
	hosts := e.must("exec", "-T", "client", "cat", "/etc/hosts")
	if strings.Contains(hosts, "api-2") || strings.Contains(hosts, "api-3") {
		t.Errorf("removed replicas still resolve:\n%s", hosts)
	}
	if addrs := lookupAll(t, e, "client", "api"); len(addrs) != 1 {
		t.Errorf("after scaling down, api resolves to %v", addrs)
	}
	e.must("down", "-t", "1")
}

func TestNetworksIsolateAndInternalHasNoWayOut(t *testing.T) {
	e := newEnv(t)
	e.importBusybox("bb", busybox.Options{})
	e.writeFile("compose.yaml", `
services:
  front:
    image: bb
    command: sleep 1000
    networks: [public]
  back:
    image: bb
    command: ["sh", "-c", "echo ok > /tmp/index.html; exec httpd -f -p 80 -h /tmp"]
    networks: [private]
  both:
    image: bb
    command: sleep 1000
    networks: [public, private]
  shared:
    image: bb
    command: sleep 1000
    network_mode: "service:both"
networks:
  public:
  private:
    internal: true
`)
	e.must("up", "-d")
	backIP := strings.Fields(e.must("exec", "-T", "back", "hostname", "-i"))[0]
	if r := e.berth("exec", "-T", "front", "timeout", "3", "wget", "-q", "-O", "-", "http://"+backIP+"/"); r.Code == 0 {
		t.Error("a container reached another network's container")
	}
	if out := e.must("exec", "-T", "both", "timeout", "3", "wget", "-q", "-O", "-", "http://back/"); out != "ok\n" {
		t.Errorf("both networks: %q", out)
	}
	if routes := e.must("exec", "-T", "back", "ip", "route"); strings.Contains(routes, "default") {
		t.Errorf("internal network has a way out:\n%s", routes)
	}
	// network_mode service:X shares X's addresses.
	a := e.must("exec", "-T", "both", "ip", "-4", "-o", "addr")
	b := e.must("exec", "-T", "shared", "ip", "-4", "-o", "addr")
	if a != b {
		t.Errorf("service:both does not share both's network:\n%s\n%s", a, b)
	}
	// A second project on its own bridge cannot reach the first.
	other := e.Project + "x"
	e.must("-p", other, "up", "-d", "front")
	if r := e.berth("-p", other, "exec", "-T", "front", "timeout", "3", "wget", "-q", "-O", "-", "http://"+backIP+"/"); r.Code == 0 {
		t.Error("another project reached this project's container")
	}
	e.must("-p", other, "down", "-t", "1")
	e.must("down", "-t", "1")
}

func TestKilledUpThenDownLeavesNothing(t *testing.T) {
	e := newEnv(t)
	e.importBusybox("bb", busybox.Options{})
	var services strings.Builder
	services.WriteString("services:\n")
	for i := 0; i < 6; i++ {
		fmt.Fprintf(&services, "  s%d:\n    image: bb\n    command: sleep 1000\n    ports: [\"80\"]\n", i)
	}
	e.writeFile("compose.yaml", services.String())
	cmd := exec.Command(binary, "--root", e.Root, "--state", e.State, "-p", e.Project, "up", "-d")
	cmd.Dir = e.Dir
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Kill berth in the middle of bringing the stack up.
	e.eventually(10*time.Second, "the first container", func() bool {
		ents, _ := os.ReadDir(filepath.Join(e.Root, "containers"))
		return len(ents) > 2
	})
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	e.must("down", "-t", "1")
	// checkNothingLeft (at cleanup) verifies bridges, veths, netns,
	// nftables rules, mounts and processes; the allocation is gone too.
	if _, err := os.Stat(filepath.Join(e.Root, "projects", e.Project, "network.json")); err == nil {
		t.Error("network allocation left after down")
	}
}

// staticBinary builds a Go program of the tests without cgo, to run in a
// busybox image.
func staticBinary(t *testing.T, pkg string) []byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), "bin")
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building %s: %v\n%s", pkg, err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// lookupAll asks the container's name server for every address of name.
func lookupAll(t *testing.T, e *env, service, name string) []string {
	t.Helper()
	out := e.must("exec", "-T", service, "nslookup", name)
	var addrs []string
	answer := false
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "Name:") {
			answer = true
		}
		if f := strings.Fields(l); answer && len(f) == 2 && f[0] == "Address:" {
			addrs = append(addrs, f[1])
		}
	}
	return addrs
}

// A network is reported when it is made, as compose does, not each time a
// command finds it there: `run` beside a running stack said "Created" for
// the project's network again.
func TestNetworkCreatedReportedOnce(t *testing.T) {
	e := newEnv(t)
	e.importBusybox("bb", busybox.Options{})
	e.writeFile("compose.yaml", "services:\n  app:\n    image: bb\n    command: sleep 1000\n  job:\n    image: bb\n    command: \"true\"\n")
	created := "Network " + e.Project + "_default Created"
	r := e.berth("--progress", "plain", "up", "-d", "app")
	if r.Code != 0 || !strings.Contains(r.Stderr, created) {
		t.Fatalf("first up: exit %d, want %q in:\n%s", r.Code, created, r.Stderr)
	}
	for _, args := range [][]string{{"up", "-d", "app"}, {"run", "--rm", "-T", "job"}} {
		r := e.berth(append([]string{"--progress", "plain"}, args...)...)
		if r.Code != 0 {
			t.Fatalf("%v: exit %d\n%s", args, r.Code, r.Stderr)
		}
		if strings.Contains(r.Stderr, created) {
			t.Errorf("%v reported the existing network as created:\n%s", args, r.Stderr)
		}
	}
	e.must("down", "-t", "0")
}
