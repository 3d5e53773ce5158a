//go:build linux

package ringline

import (
	"context"
	"fmt"
	"io"
	"net"
	"testing"
)

// BenchmarkEcho measures one echo round trip through a one-worker server
// over loopback: the client writes size bytes and reads them back. The
// allocation count covers the whole process, server worker included.
func BenchmarkEcho(b *testing.B) {
	for _, bc := range builtBackends() {
		if err := backendUsable(bc); err != nil {
			b.Skipf("%s unusable here: %v", bc.name, err)
		}
		for _, size := range []int{64, 1024} {
			b.Run(fmt.Sprintf("%s/%dB", bc.name, size), func(b *testing.B) {
				cfg := bc.cfg
				cfg.Workers = 1
				srv, err := Listen(context.Background(), "tcp", "127.0.0.1:0", cfg, echoHandler{})
				if err != nil {
					b.Fatal(err)
				}
				defer srv.Close()
				c, err := net.Dial("tcp", srv.Addr().String())
				if err != nil {
					b.Fatal(err)
				}
				defer c.Close()
				msg, got := make([]byte, size), make([]byte, size)
				for i := range msg {
					msg[i] = byte(i)
				}
				b.SetBytes(int64(size))
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					if _, err := c.Write(msg); err != nil {
						b.Fatal(err)
					}
					if _, err := io.ReadFull(c, got); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
