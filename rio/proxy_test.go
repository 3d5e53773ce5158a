//go:build linux

package rio

import (
	"io"
	"sync"
	"testing"
	"time"
)

// TestProxyRefusalPausesSource guards backpressure across connections: a
// handler that proxies what one connection receives to another, in 4 KiB
// Sends, with an 8 KiB send budget. When the destination's budget refuses,
// the source must pause and be offered its bytes again once the
// destination drains, so all 256 KiB arrive, in order. (A refusal used to
// be filed on the destination only, the source never paused, and the
// proxy stalled after 8 KiB.)
func TestProxyRefusalPausesSource(t *testing.T) {
	forEachBackend(t, func(t *testing.T, cfg Config) {
		cfg.Workers, cfg.SendBudget = 1, 8192
		var mu sync.Mutex
		var conns []Conn
		proxy := func(c Conn, data []byte) int {
			mu.Lock()
			dst := conns[1]
			mu.Unlock()
			n := 0
			for n < len(data) {
				k := min(len(data)-n, 4096)
				if dst.Send(data[n:n+k]) != nil {
					break
				}
				n += k
			}
			return n
		}
		srv := serve(t, "tcp", "127.0.0.1:0", cfg, &hooks{
			open: func(c Conn) { mu.Lock(); conns = append(conns, c); mu.Unlock() },
			data: proxy,
		})
		src := dialTCP(t, srv)
		defer src.Close()
		eventually(t, "the source connection open", 30*time.Second, func() bool { mu.Lock(); defer mu.Unlock(); return len(conns) == 1 })
		dst := dialTCP(t, srv)
		defer dst.Close()
		eventually(t, "the destination connection open", 30*time.Second, func() bool { mu.Lock(); defer mu.Unlock(); return len(conns) == 2 })
		payload := randomBytes(256<<10, 7)
		go src.Write(payload)
		dst.SetReadDeadline(time.Now().Add(60 * time.Second))
		got := make([]byte, len(payload))
		if n, err := io.ReadFull(dst, got); err != nil {
			t.Fatalf("the destination read %d of %d bytes: %v", n, len(payload), err)
		}
		if i := firstDiff(got, payload); i >= 0 {
			t.Fatalf("the proxied bytes differ at %d", i)
		}
		if srv.Stats().Total().SendBudgetExhausted == 0 {
			t.Error("the destination's budget never refused: backpressure was not exercised")
		}
	})
}

// TestFramesPastAccCap guards delivery of whole frames when a receive
// brings more than AccCap: a handler that takes only whole 1000-byte frames
// and echoes them, with a 4 KiB budget and accumulator cap and 16 KiB
// receive buffers. Every frame must be offered and echoed; the connection
// must not be closed for holding more than AccCap when all it ever leaves
// is part of one frame.
func TestFramesPastAccCap(t *testing.T) {
	forEachBackend(t, func(t *testing.T, cfg Config) {
		cfg.Workers, cfg.SendBudget, cfg.AccCap, cfg.BufSize = 1, 4096, 4096, 16384
		frames := func(c Conn, data []byte) int {
			n := len(data) / 1000 * 1000
			if n == 0 || c.Send(data[:n]) != nil {
				return 0
			}
			return n
		}
		srv := serve(t, "tcp", "127.0.0.1:0", cfg, &hooks{data: frames})
		conn := dialTCP(t, srv)
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(60 * time.Second))
		if err := echoClient(conn, [][]byte{randomBytes(16000, 1)}); err != nil {
			t.Fatal(err)
		}
	})
}
