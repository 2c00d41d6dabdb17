// Command udpecho answers every UDP datagram on the port in its first
// argument with "udp-ok: " and the datagram: a static test binary for
// published UDP ports (busybox's nc has no UDP).
package main

import (
	"net"
	"os"
)

func main() {
	c, err := net.ListenPacket("udp4", ":"+os.Args[1])
	if err != nil {
		os.Stderr.WriteString(err.Error() + "\n")
		os.Exit(1)
	}
	buf := make([]byte, 2048)
	for {
		n, addr, err := c.ReadFrom(buf)
		if err != nil {
			continue
		}
		c.WriteTo(append([]byte("udp-ok: "), buf[:n]...), addr)
	}
}
