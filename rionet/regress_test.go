//go:build linux

package rionet

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/ringline-go/ringline/rio"
)

// A dial to a port no one listens on fails, every time: the Conn of a
// failed dial is never handed out.
func TestDialRefusedFails(t *testing.T) {
	for _, b := range backends() {
		t.Run(string(b), func(t *testing.T) {
			gone, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			addr := gone.Addr().String()
			gone.Close()
			d, err := NewDialer(context.Background(), rio.Config{Backend: b, Workers: 1})
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			for i := range 50 {
				if c, err := d.DialContext(context.Background(), "tcp", addr); err == nil {
					c.Close()
					t.Fatalf("dial %d to a closed port succeeded", i)
				}
			}
		})
	}
}

// A reader that stalls and then drains everything, over and over, keeps
// the inbound buffer bounded: the receive is held each time the buffer
// fills (and a resume is checked again on the worker, so input already on
// its way cannot leave the receive running while the Conn thinks it held).
func TestInboundBufferStaysBounded(t *testing.T) {
	for _, b := range backends() {
		t.Run(string(b), func(t *testing.T) {
			cfg := rio.Config{Backend: b, Workers: 1}
			ln := listen(t, cfg)
			sender, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer sender.Close()
			go func() {
				chunk := make([]byte, 64<<10)
				for {
					if _, err := sender.Write(chunk); err != nil {
						return
					}
				}
			}()
			nc, err := ln.Accept()
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			c := nc.(*Conn)
			most := 0
			buf := make([]byte, 1<<20)
			for range 8 {
				time.Sleep(100 * time.Millisecond) // stall: the worker fills the buffer and holds
				for {                              // drain all that is there: the resume races with input still on its way
					c.mu.Lock()
					n := len(c.in)
					most = max(most, n)
					c.mu.Unlock()
					if n == 0 {
						break
					}
					if _, err := c.Read(buf); err != nil {
						t.Fatal(err)
					}
				}
			}
			// The bound: the hold's mark plus what was already in flight when
			// the hold began, at most the worker's receive buffers (8 MiB at
			// the default Config) and the socket's queue.
			if limit := holdAt + rio.DefaultBufEntries*rio.DefaultBufSize + 8<<20; most > limit {
				t.Fatalf("inbound buffer reached %d bytes, over %d", most, limit)
			}
			t.Logf("inbound buffer at most %d bytes", most)
		})
	}
}
