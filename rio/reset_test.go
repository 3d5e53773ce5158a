//go:build linux

package rio

import (
	"errors"
	"io"
	"math/rand/v2"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestPeerResetDuringLargeSend checks a reset arriving while the server is
// pushing 8 MiB through a 1 MiB send pool, refilled from OnSent: the client
// reads 64 KiB, then resets (SO_LINGER 0 and close). The connection's
// OnClose must run exactly once, with an error matching ECONNRESET or EPIPE;
// the worker must go on serving (a new connection echoes), and give back
// every send slot and connection slot.
func TestPeerResetDuringLargeSend(t *testing.T) {
	forEachBackend(t, func(t *testing.T, cfg Config) {
		cfg.Workers, cfg.SendSlots, cfg.SendSlotSize = 1, 64, 16<<10
		const total, chunk = 8 << 20, 64 << 10
		src := make([]byte, chunk)
		for i := range src {
			src[i] = byte(i*7 + i>>8)
		}

		var mu sync.Mutex
		closes := map[uint64][]error{} // OnClose causes by connection ID
		var floodID uint64
		flooding := true // the next connection opened is flooded
		firstClosed := make(chan struct{})
		secondClosed := make(chan struct{})

		// pump queues chunks until 8 MiB are queued or the pool is full; the
		// remaining count lives in the connection's value.
		pump := func(c Conn) {
			left, ok := c.Value().(int)
			if !ok {
				return
			}
			for left > 0 {
				err := c.Send(src[:min(chunk, left)])
				if errors.Is(err, ErrSendPoolExhausted) {
					break
				}
				if err != nil {
					return // closing
				}
				left -= min(chunk, left)
			}
			c.SetValue(left)
		}
		h := &hooks{
			open: func(c Conn) {
				mu.Lock()
				flood := flooding
				if flood {
					flooding, floodID = false, c.ID()
				}
				mu.Unlock()
				if flood {
					c.SetValue(total)
					pump(c)
				}
			},
			data: func(c Conn, p []byte) int {
				if _, flood := c.Value().(int); flood {
					return len(p)
				}
				if c.Send(p) != nil {
					return 0
				}
				return len(p)
			},
			sent: func(c Conn, n int) { pump(c) },
			closed: func(c Conn, err error) {
				mu.Lock()
				closes[c.ID()] = append(closes[c.ID()], err)
				n := len(closes)
				mu.Unlock()
				switch n {
				case 1:
					close(firstClosed)
				case 2:
					close(secondClosed)
				}
			},
		}
		srv := serve(t, "tcp", "127.0.0.1:0", cfg, h)

		conn := dialTCP(t, srv)
		got := make([]byte, chunk)
		if _, err := io.ReadFull(conn, got); err != nil {
			t.Fatalf("read the first %d bytes: %v", len(got), err)
		}
		if i := firstDiff(got, src); i >= 0 {
			t.Errorf("first chunk differs at byte %d", i)
		}
		if err := conn.SetLinger(0); err != nil {
			t.Fatalf("SetLinger(0): %v", err)
		}
		conn.Close() // unread data and linger 0: the kernel sends RST
		within(t, "OnClose of the reset connection", firstClosed, 30*time.Second)

		// The worker serves on.
		echo := dialTCP(t, srv)
		r := rand.New(rand.NewPCG(7, 7))
		if err := echoClient(echo, randomMessages(r, 4, 256<<10)); err != nil {
			t.Errorf("echo on a new connection after the reset: %v", err)
		}
		echo.Close()
		within(t, "OnClose of the echo connection", secondClosed, 30*time.Second)

		mu.Lock()
		errs := closes[floodID]
		mu.Unlock()
		if len(errs) != 1 {
			t.Fatalf("OnClose ran %d times for the reset connection (%v), want once", len(errs), errs)
		}
		if err := errs[0]; !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, syscall.EPIPE) {
			t.Errorf("OnClose cause %v (%T), want one matching ECONNRESET or EPIPE", err, err)
		} else {
			t.Logf("cause: %v", err)
		}
		onWorker(t, srv, 0, func(w *Worker) {
			if a := w.pool.available(); a != cfg.SendSlots {
				t.Errorf("send pool has %d free slots with no connection, want all %d", a, cfg.SendSlots)
			}
			if w.Conns() != 0 || len(w.conns.free) != w.conns.made() {
				t.Errorf("worker holds %d connections, %d of %d slots free; want none held", w.Conns(), len(w.conns.free), w.conns.made())
			}
		})
		st := srv.Stats().Total()
		if st.Accepted != 2 || st.Closed != 2 {
			t.Errorf("stats: accepted %d, closed %d; want 2 and 2", st.Accepted, st.Closed)
		}
	})
}
