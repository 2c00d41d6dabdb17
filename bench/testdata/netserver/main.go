// Command netserver is the benchmark's peer: on :7000 it answers each
// connection with "ok\n" and closes; on :7001 it streams zeros until the
// client hangs up.
package main

import (
	"net"
)

func main() {
	short, err := net.Listen("tcp4", ":7000")
	if err != nil {
		panic(err)
	}
	stream, err := net.Listen("tcp4", ":7001")
	if err != nil {
		panic(err)
	}
	go func() {
		buf := make([]byte, 256<<10)
		for {
			c, err := stream.Accept()
			if err != nil {
				continue
			}
			go func() {
				defer c.Close()
				for {
					if _, err := c.Write(buf); err != nil {
						return
					}
				}
			}()
		}
	}()
	for {
		c, err := short.Accept()
		if err != nil {
			continue
		}
		c.Write([]byte("ok\n"))
		c.Close()
	}
}
