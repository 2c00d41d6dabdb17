// Command rawsyn opens a TCP connection with hand-made Ethernet frames, the
// way an attacker with CAP_NET_RAW on the same link would: it sends a SYN
// to -dst:-port through the next hop whose MAC is -mac, whatever the
// kernel's routing thinks of that address (127.0.0.1 included), and on a
// SYN-ACK completes the handshake and sends -payload.
//
// Exit status: 0 when the destination answered, 3 when nothing answered
// within -timeout, 1 on any other error. A static test binary: it runs in
// busybox containers and in network namespaces the tests make.
package main

import (
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"syscall"
	"time"
)

const ethPIP = 0x0800

func main() {
	ifname := flag.String("i", "eth0", "interface to send on")
	macs := flag.String("mac", "", "destination MAC (the next hop)")
	dsts := flag.String("dst", "127.0.0.1", "destination address")
	port := flag.Int("port", 0, "destination port")
	payload := flag.String("payload", "rawsyn\n", "data sent once connected")
	timeout := flag.Duration("timeout", 2*time.Second, "how long to wait for an answer")
	flag.Parse()
	err := run(*ifname, *macs, *dsts, *port, *payload, *timeout)
	var none noAnswer
	switch {
	case errors.As(err, &none):
		fmt.Println(err)
		os.Exit(3)
	case err != nil:
		fmt.Fprintln(os.Stderr, "rawsyn:", err)
		os.Exit(1)
	}
	fmt.Println("answered")
}

type noAnswer struct{ dst string }

func (e noAnswer) Error() string { return "no answer from " + e.dst }

func run(ifname, macs, dsts string, port int, payload string, timeout time.Duration) error {
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return err
	}
	dmac, err := net.ParseMAC(macs)
	if err != nil {
		return err
	}
	dst := net.ParseIP(dsts).To4()
	if dst == nil {
		return fmt.Errorf("not an IPv4 address: %q", dsts)
	}
	src, err := ipv4Of(ifi)
	if err != nil {
		return err
	}
	fd, err := syscall.Socket(syscall.AF_PACKET, syscall.SOCK_RAW, int(htons(ethPIP)))
	if err != nil {
		return fmt.Errorf("packet socket: %w", err)
	}
	defer syscall.Close(fd)
	if err := syscall.Bind(fd, &syscall.SockaddrLinklayer{Protocol: htons(ethPIP), Ifindex: ifi.Index}); err != nil {
		return err
	}
	tv := syscall.NsecToTimeval((100 * time.Millisecond).Nanoseconds())
	if err := syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &tv); err != nil {
		return err
	}
	c := conn{fd: fd, ifi: ifi, dmac: dmac, src: src, dst: dst, sport: uint16(20000 + rand.IntN(40000)), dport: uint16(port), seq: rand.Uint32()}
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if err := c.send(flagSYN, c.seq, 0, nil); err != nil {
			return err
		}
		// Wait for the answer a while, then send the SYN again.
		theirSeq, ok, err := c.awaitSynAck(time.Now().Add(300 * time.Millisecond))
		if err != nil {
			return err
		}
		if ok {
			return c.send(flagACK|flagPSH, c.seq+1, theirSeq+1, []byte(payload))
		}
	}
	return noAnswer{fmt.Sprintf("%s:%d", dst, port)}
}

func ipv4Of(ifi *net.Interface) (net.IP, error) {
	addrs, err := ifi.Addrs()
	if err != nil {
		return nil, err
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil {
			return n.IP.To4(), nil
		}
	}
	return nil, fmt.Errorf("%s has no IPv4 address", ifi.Name)
}

const (
	flagSYN = 0x02
	flagPSH = 0x08
	flagACK = 0x10
)

type conn struct {
	fd       int
	ifi      *net.Interface
	dmac     net.HardwareAddr
	src, dst net.IP
	sport    uint16
	dport    uint16
	seq      uint32
}

func (c *conn) send(flags byte, seq, ack uint32, data []byte) error {
	tcp := make([]byte, 20+len(data))
	binary.BigEndian.PutUint16(tcp[0:], c.sport)
	binary.BigEndian.PutUint16(tcp[2:], c.dport)
	binary.BigEndian.PutUint32(tcp[4:], seq)
	binary.BigEndian.PutUint32(tcp[8:], ack)
	tcp[12] = 5 << 4
	tcp[13] = flags
	binary.BigEndian.PutUint16(tcp[14:], 64240)
	copy(tcp[20:], data)
	pseudo := make([]byte, 12, 12+len(tcp))
	copy(pseudo[0:], c.src)
	copy(pseudo[4:], c.dst)
	pseudo[9] = syscall.IPPROTO_TCP
	binary.BigEndian.PutUint16(pseudo[10:], uint16(len(tcp)))
	binary.BigEndian.PutUint16(tcp[16:], checksum(append(pseudo, tcp...)))

	ip := make([]byte, 20)
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], uint16(20+len(tcp)))
	binary.BigEndian.PutUint16(ip[4:], uint16(rand.IntN(65536)))
	ip[6] = 0x40 // don't fragment
	ip[8] = 64
	ip[9] = syscall.IPPROTO_TCP
	copy(ip[12:], c.src)
	copy(ip[16:], c.dst)
	binary.BigEndian.PutUint16(ip[10:], checksum(ip))

	frame := make([]byte, 0, 14+len(ip)+len(tcp))
	frame = append(frame, c.dmac...)
	frame = append(frame, c.ifi.HardwareAddr...)
	frame = binary.BigEndian.AppendUint16(frame, ethPIP)
	frame = append(append(frame, ip...), tcp...)
	to := &syscall.SockaddrLinklayer{Protocol: htons(ethPIP), Ifindex: c.ifi.Index, Halen: 6}
	copy(to.Addr[:], c.dmac)
	return syscall.Sendto(c.fd, frame, 0, to)
}

// awaitSynAck reads frames until the SYN-ACK of this connection arrives or
// the deadline passes, and returns the peer's sequence number.
func (c *conn) awaitSynAck(deadline time.Time) (uint32, bool, error) {
	buf := make([]byte, 65536)
	for time.Now().Before(deadline) {
		n, _, err := syscall.Recvfrom(c.fd, buf, 0)
		if errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil {
			return 0, false, err
		}
		f := buf[:n]
		if len(f) < 14+20 || binary.BigEndian.Uint16(f[12:]) != ethPIP {
			continue
		}
		ip := f[14:]
		ihl := int(ip[0]&0x0f) * 4
		if ip[9] != syscall.IPPROTO_TCP || len(ip) < ihl+20 || !net.IP(ip[12:16]).Equal(c.dst) {
			continue
		}
		tcp := ip[ihl:]
		if binary.BigEndian.Uint16(tcp[0:]) != c.dport || binary.BigEndian.Uint16(tcp[2:]) != c.sport {
			continue
		}
		if tcp[13]&(flagSYN|flagACK) == flagSYN|flagACK && binary.BigEndian.Uint32(tcp[8:]) == c.seq+1 {
			return binary.BigEndian.Uint32(tcp[4:]), true, nil
		}
	}
	return 0, false, nil
}

func checksum(b []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }
