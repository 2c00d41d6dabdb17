package acceptance

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vishvananda/netns"

	"github.com/berthdev/berth/internal/busybox"
)

// The rawsyn client (testdata/rawsyn) exits 0 when the destination
// answered its SYN and 3 when nothing answered.
const (
	rawAnswered = 0
	rawNoAnswer = 3
)

// TestAttackLoopbackUnreachableFromContainersAndLAN locks in two holes:
// a container with Docker's default CAP_NET_RAW sending frames to its
// gateway's MAC addressed to 127.0.0.1 reached the host's loopback-only
// services (berth turns route_localnet on for its bridges: the
// CVE-2020-8558 class), and a LAN neighbour routing 127.0.0.1 to the host
// reached ports published on 127.0.0.1 (their DNAT was also in
// prerouting: moby#45610). Publishing on 127.0.0.1 must keep working from
// the host itself.
func TestAttackLoopbackUnreachableFromContainersAndLAN(t *testing.T) {
	e := newEnv(t)
	rawsyn := staticBinary(t, "./testdata/rawsyn")
	e.importBusybox("bb", busybox.Options{Files: map[string][]byte{"bin/rawsyn": rawsyn}})
	secret := newLoopbackService(t)
	e.writeFile("compose.yaml", `
services:
  local:
    image: bb
    command: ["sh", "-c", "echo local-only > /tmp/index.html; exec httpd -f -p 80 -h /tmp"]
    ports: ["127.0.0.1::80"]
  open:
    image: bb
    command: ["sh", "-c", "echo open > /tmp/index.html; exec httpd -f -p 80 -h /tmp"]
    ports: ["80"]
  probe:
    image: bb
    command: sleep 1000
`)
	e.must("up", "-d")
	rows := e.byService(e.ps())
	localPort := rows["local"].Publishers[0].PublishedPort
	openPort := rows["open"].Publishers[0].PublishedPort
	gw := gatewayOf(t, e, "probe")
	gwMAC := macOfAddress(t, gw)
	// Both web servers answer before anything is probed, so that a probe
	// that gets no answer is not merely early.
	httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/", localPort))
	httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/", openPort))

	probe := func(dst string, port int) result {
		t.Helper()
		return e.berth("exec", "-T", "probe", "rawsyn", "-i", "eth0", "-mac", gwMAC, "-dst", dst, "-port", fmt.Sprint(port))
	}
	t.Run("container to host loopback", func(t *testing.T) {
		// Control: the same crafted frames do open a connection to a
		// port the host publishes on all its addresses (hairpin).
		if r := probe(gw, openPort); r.Code != rawAnswered {
			t.Fatalf("control: raw SYN to %s:%d through the gateway: exit %d\n%s%s", gw, openPort, r.Code, r.Stdout, r.Stderr)
		}
		if r := probe("127.0.0.1", secret.port); r.Code != rawNoAnswer {
			t.Errorf("a container reached the host's 127.0.0.1:%d service: exit %d\n%s%s", secret.port, r.Code, r.Stdout, r.Stderr)
		}
		if got := secret.received(); got != "" {
			t.Errorf("the host's loopback-only service received %q from a container", got)
		}
		if r := probe("127.0.0.1", localPort); r.Code != rawNoAnswer {
			t.Errorf("a container reached the port published on 127.0.0.1:%d: exit %d\n%s%s", localPort, r.Code, r.Stdout, r.Stderr)
		}
	})
	t.Run("LAN neighbour to 127.0.0.1 publication", func(t *testing.T) {
		nb := newNeighbour(t)
		bin := filepath.Join(t.TempDir(), "rawsyn")
		if err := os.WriteFile(bin, rawsyn, 0o755); err != nil {
			t.Fatal(err)
		}
		probe := func(dst string, port int) (int, string) {
			t.Helper()
			cmd := exec.Command("ip", "netns", "exec", nb.Name, bin, "-i", nb.NSIf, "-mac", nb.HostMAC, "-dst", dst, "-port", fmt.Sprint(port))
			out, err := cmd.CombinedOutput()
			if ee, ok := err.(*exec.ExitError); ok {
				return ee.ExitCode(), string(out)
			} else if err != nil {
				t.Fatalf("rawsyn in %s: %v", nb.Name, err)
			}
			return 0, string(out)
		}
		// Control: the neighbour reaches a port published on 0.0.0.0.
		if code, out := probe(nb.HostIP, openPort); code != rawAnswered {
			t.Fatalf("control: neighbour to %s:%d: exit %d\n%s", nb.HostIP, openPort, code, out)
		}
		if code, out := probe("127.0.0.1", localPort); code != rawNoAnswer {
			t.Errorf("a LAN neighbour reached the port published on 127.0.0.1:%d: exit %d\n%s", localPort, code, out)
		}
	})
	t.Run("host to 127.0.0.1 publication", func(t *testing.T) {
		if body := httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/", localPort)); body != "local-only\n" {
			t.Errorf("127.0.0.1:%d from the host: %q", localPort, body)
		}
		if body := httpGet(t, fmt.Sprintf("http://%s:%d/", gw, openPort)); body != "open\n" {
			t.Errorf("%s:%d from the host: %q", gw, openPort, body)
		}
		out := e.must("exec", "-T", "probe", "timeout", "3", "wget", "-q", "-O", "-", fmt.Sprintf("http://%s:%d/", gw, openPort))
		if out != "open\n" {
			t.Errorf("hairpin: %q", out)
		}
	})
	e.must("down", "-t", "1")
}

// loopbackService is a TCP service of the host bound to 127.0.0.1 only,
// that records what it is sent.
type loopbackService struct {
	port int
	mu   sync.Mutex
	got  strings.Builder
}

func newLoopbackService(t *testing.T) *loopbackService {
	t.Helper()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	s := &loopbackService{port: l.Addr().(*net.TCPAddr).Port}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			fmt.Fprintf(&s.got, "connection from %s\n", c.RemoteAddr())
			s.mu.Unlock()
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(5 * time.Second))
				b := make([]byte, 4096)
				n, _ := c.Read(b)
				s.mu.Lock()
				fmt.Fprintf(&s.got, "%s sent %q\n", c.RemoteAddr(), b[:n])
				s.mu.Unlock()
			}()
		}
	}()
	return s
}

func (s *loopbackService) received() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.got.String()
}

// macOfAddress is the MAC of the host interface that holds addr.
func macOfAddress(t *testing.T, addr string) string {
	t.Helper()
	ifs, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	for _, ifi := range ifs {
		addrs, _ := ifi.Addrs()
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && n.IP.String() == addr {
				return ifi.HardwareAddr.String()
			}
		}
	}
	t.Fatalf("no host interface holds %s", addr)
	return ""
}

// neighbour is another machine on the host's LAN, simulated by a network
// namespace joined to the host by a veth pair on a /30 of its own.
type neighbour struct {
	Name         string // under /run/netns
	HostIf, NSIf string
	HostIP, NSIP string
	HostMAC      string
}

func newNeighbour(t *testing.T) *neighbour {
	t.Helper()
	b := make([]byte, 3)
	rand.Read(b)
	tag := hex.EncodeToString(b)
	hostIP, nsIP := freeSlash30(t)
	nb := &neighbour{Name: "berth-nb-" + tag, HostIf: "bnbh" + tag, NSIf: "bnbn" + tag, HostIP: hostIP, NSIP: nsIP}
	ip := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	ip("netns", "add", nb.Name)
	t.Cleanup(func() {
		exec.Command("ip", "link", "del", nb.HostIf).Run()
		exec.Command("ip", "netns", "del", nb.Name).Run()
	})
	ip("link", "add", nb.HostIf, "type", "veth", "peer", "name", nb.NSIf, "netns", nb.Name)
	ip("addr", "add", hostIP+"/30", "dev", nb.HostIf)
	ip("link", "set", nb.HostIf, "up")
	ip("-n", nb.Name, "addr", "add", nsIP+"/30", "dev", nb.NSIf)
	ip("-n", nb.Name, "link", "set", nb.NSIf, "up")
	ifi, err := net.InterfaceByName(nb.HostIf)
	if err != nil {
		t.Fatal(err)
	}
	nb.HostMAC = ifi.HardwareAddr.String()
	return nb
}

// freeSlash30 picks a /30 of 100.64.0.0/10 that no address or route of
// the host overlaps, and returns its two host addresses.
func freeSlash30(t *testing.T) (string, string) {
	t.Helper()
	out, err := exec.Command("ip", "-4", "-o", "route", "show", "table", "all").Output()
	if err != nil {
		t.Fatal(err)
	}
	var taken []*net.IPNet
	for _, l := range strings.Split(string(out), "\n") {
		f := strings.Fields(l)
		if len(f) == 0 {
			continue
		}
		dst := f[0]
		if dst == "local" || dst == "broadcast" || dst == "unicast" {
			if len(f) < 2 {
				continue
			}
			dst = f[1]
		}
		if dst == "default" {
			continue
		}
		if !strings.Contains(dst, "/") {
			dst += "/32"
		}
		if _, n, err := net.ParseCIDR(dst); err == nil {
			taken = append(taken, n)
		}
	}
	for range 100 {
		b := make([]byte, 3)
		rand.Read(b)
		base := net.IPv4(100, 64+b[0]%64, b[1], b[2]&^3).To4()
		sn := &net.IPNet{IP: base, Mask: net.CIDRMask(30, 32)}
		free := true
		for _, n := range taken {
			if n.Contains(sn.IP) || sn.Contains(n.IP) {
				free = false
			}
		}
		if free {
			return net.IPv4(base[0], base[1], base[2], base[3]+1).String(), net.IPv4(base[0], base[1], base[2], base[3]+2).String()
		}
	}
	t.Fatal("no free /30 in 100.64.0.0/10")
	return "", ""
}

// inside runs fn on an OS thread that is in the neighbour's network
// namespace: sockets fn opens belong to the neighbour.
func (nb *neighbour) inside(t *testing.T, fn func() error) error {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			errc <- err
			return
		}
		defer orig.Close()
		ns, err := netns.GetFromName(nb.Name)
		if err != nil {
			errc <- err
			return
		}
		defer ns.Close()
		if err := netns.Set(ns); err != nil {
			errc <- err
			return
		}
		err = fn()
		if serr := netns.Set(orig); serr != nil {
			// The thread stays locked and dies with the goroutine.
			errc <- fmt.Errorf("returning to the host's namespace: %w", serr)
			return
		}
		runtime.UnlockOSThread()
		errc <- err
	}()
	return <-errc
}

// get fetches url from the neighbour.
func (nb *neighbour) get(t *testing.T, url string) (string, error) {
	t.Helper()
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		var c net.Conn
		err := nb.inside(t, func() error {
			var err error
			c, err = (&net.Dialer{Timeout: 3 * time.Second}).DialContext(ctx, network, addr)
			return err
		})
		return c, err
	}
	client := http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: dial, DisableKeepAlives: true}}
	resp, err := client.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return string(b), fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return string(b), err
}

// serve answers HTTP requests on the neighbour's address with body, and
// returns the port.
func (nb *neighbour) serve(t *testing.T, body string) int {
	t.Helper()
	var l net.Listener
	if err := nb.inside(t, func() error {
		var err error
		l, err = net.Listen("tcp4", net.JoinHostPort(nb.NSIP, "0"))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, body) })}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return l.Addr().(*net.TCPAddr).Port
}
