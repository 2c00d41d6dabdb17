package runtime

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	goruntime "runtime"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/dns/dnsmessage"
	"golang.org/x/sys/unix"
)

// ResolverAddress is where a container's embedded name server listens,
// inside the container's own network namespace (as Docker's does).
const ResolverAddress = "127.0.0.11"

// Resolver configures the embedded name server the monitor runs for a
// container on a project network. It answers from NamesFile (hosts-file
// lines the project keeps current): every address of a name, in rotating
// order, so the replicas of a scaled service all serve under its name.
// Other names go to Upstream servers.
type Resolver struct {
	NamesFile string
	Upstream  []string // "ip:port"
}

// startResolver listens on ResolverAddress:53 (UDP) in the network
// namespace at nsPath and serves until ctx ends.
func startResolver(ctx context.Context, nsPath string, r *Resolver) error {
	conn, err := listenInNetNS(nsPath, ResolverAddress+":53")
	if err != nil {
		return fmt.Errorf("starting the name server: %w", err)
	}
	s := &nameServer{r: r, conn: conn}
	go func() {
		<-ctx.Done()
		conn.Close()
	}()
	go s.serve()
	return nil
}

// listenInNetNS opens a UDP socket in another network namespace: the
// socket stays there whichever thread later uses it.
func listenInNetNS(nsPath, addr string) (net.PacketConn, error) {
	type result struct {
		c   net.PacketConn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		goruntime.LockOSThread() // never unlocked: the thread ends with the goroutine
		ns, err := os.Open(nsPath)
		if err != nil {
			ch <- result{nil, err}
			return
		}
		defer ns.Close()
		if err := unix.Setns(int(ns.Fd()), unix.CLONE_NEWNET); err != nil {
			ch <- result{nil, err}
			return
		}
		c, err := net.ListenPacket("udp4", addr)
		ch <- result{c, err}
	}()
	r := <-ch
	return r.c, r.err
}

type nameServer struct {
	r    *Resolver
	conn net.PacketConn

	mu      sync.Mutex
	names   map[string][]netip.Addr
	modTime time.Time
	turn    int
}

func (s *nameServer) serve() {
	buf := make([]byte, 1500)
	for {
		n, addr, err := s.conn.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		q := append([]byte(nil), buf[:n]...)
		go func() {
			if resp := s.answer(q); resp != nil {
				s.conn.WriteTo(resp, addr)
			}
		}()
	}
}

// load rereads the names file when it changed.
func (s *nameServer) load() map[string][]netip.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	fi, err := os.Stat(s.r.NamesFile)
	if err != nil || (s.names != nil && fi.ModTime().Equal(s.modTime)) {
		return s.names
	}
	f, err := os.Open(s.r.NamesFile)
	if err != nil {
		return s.names
	}
	defer f.Close()
	names := map[string][]netip.Addr{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		ip, err := netip.ParseAddr(fields[0])
		if err != nil || !ip.Is4() {
			continue
		}
		for _, n := range fields[1:] {
			k := strings.ToLower(strings.TrimSuffix(n, "."))
			names[k] = append(names[k], ip)
		}
	}
	s.names, s.modTime = names, fi.ModTime()
	return names
}

// answer builds the reply to one query: known names from the names file,
// everything else from upstream.
func (s *nameServer) answer(q []byte) []byte {
	var p dnsmessage.Parser
	h, err := p.Start(q)
	if err != nil {
		return nil
	}
	question, err := p.Question()
	if err != nil {
		return nil
	}
	name := strings.ToLower(strings.TrimSuffix(question.Name.String(), "."))
	addrs, known := s.load()[name]
	if !known {
		if resp := s.forward(q); resp != nil {
			return resp
		}
	}
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: h.ID, Response: true, Authoritative: known, RecursionDesired: h.RecursionDesired, RecursionAvailable: true})
	if !known {
		b = dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: h.ID, Response: true, RCode: dnsmessage.RCodeNameError, RecursionDesired: h.RecursionDesired})
	}
	b.EnableCompression()
	b.StartQuestions()
	b.Question(question)
	b.StartAnswers()
	if known && question.Type == dnsmessage.TypeA {
		// Rotate, so clients that take the first address spread out.
		s.mu.Lock()
		s.turn++
		start := s.turn
		s.mu.Unlock()
		order := make([]netip.Addr, len(addrs))
		for i := range addrs {
			order[i] = addrs[(start+i)%len(addrs)]
		}
		if len(order) > 1 && rand.IntN(2) == 0 {
			order[0], order[1] = order[1], order[0]
		}
		for _, a := range order {
			b.AResource(dnsmessage.ResourceHeader{Name: question.Name, Class: dnsmessage.ClassINET, TTL: 0}, dnsmessage.AResource{A: a.As4()})
		}
	}
	out, err := b.Finish()
	if err != nil {
		return nil
	}
	return out
}

// forward asks the upstream servers, from the monitor's own namespace.
func (s *nameServer) forward(q []byte) []byte {
	for _, up := range s.r.Upstream {
		c, err := net.Dial("udp", up)
		if err != nil {
			continue
		}
		c.SetDeadline(time.Now().Add(2 * time.Second))
		if _, err := c.Write(q); err != nil {
			c.Close()
			continue
		}
		buf := make([]byte, 4096)
		n, err := c.Read(buf)
		c.Close()
		if err == nil {
			return buf[:n]
		}
	}
	return nil
}

// HostNameservers are the host's non-loopback name servers, as ip:53.
func HostNameservers() []string {
	var out []string
	for _, l := range strings.Split(HostResolvConf(), "\n") {
		f := strings.Fields(l)
		if len(f) >= 2 && f[0] == "nameserver" {
			if ip := net.ParseIP(f[1]); ip != nil && !ip.IsLoopback() {
				out = append(out, net.JoinHostPort(f[1], "53"))
			}
		}
	}
	return out
}
