//go:build linux

package rio

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"testing"
	"time"
)

// handlerStyles are the ways of echoing the documented API allows: each
// chunk sent whole or left for later, as much as the limits take, or
// forwarded from the receive buffer whole or left for later.
var handlerStyles = []struct {
	name   string
	onData func(c Conn, data []byte) int
}{
	{"copy-whole", func(c Conn, data []byte) int {
		if c.Send(data) != nil {
			return 0
		}
		return len(data)
	}},
	{"copy-some", echoHandler{}.OnData},
	{"forward", func(c Conn, data []byte) int {
		if c.Forward(data) != nil {
			return 0
		}
		return len(data)
	}},
}

// TestSlowReaderDoesNotStallOthers guards the fairness promise: one worker,
// the default Config and a 64 KiB send pool (16 slots of 4 KiB); a peer
// writes 32 MiB and reads nothing. Once its connection has used up its send
// budget and paused, a second connection's 1 KiB echo must still come back
// while the first peer is still not reading (a stall would hold it until
// the hang guard fails the test). Then the slow peer reads, and gets all
// 32 MiB back intact.
func TestSlowReaderDoesNotStallOthers(t *testing.T) {
	for _, pool := range []struct {
		name         string
		slots, bytes int
	}{{"default pool", 0, 0}, {"64 KiB pool", 16, 4096}} {
		t.Run(pool.name, func(t *testing.T) { slowReader(t, pool.slots, pool.bytes) })
	}
}

func slowReader(t *testing.T, slots, slotSize int) {
	forEachBackend(t, func(t *testing.T, cfg Config) {
		cfg.Workers, cfg.SendSlots, cfg.SendSlotSize = 1, slots, slotSize
		srv := serve(t, "tcp", "127.0.0.1:0", cfg, echoHandler{})
		slowAndFast(t, srv, nil)
	})
}

// slowAndFast is the fairness check on srv (one worker): a peer writes 32
// MiB and reads nothing; once its connection paused on its send budget,
// check (if any) looks at the worker, a second connection's 1 KiB echo must
// come back while the first peer is still not reading, and the slow peer
// then reads all 32 MiB back intact.
func slowAndFast(t *testing.T, srv *Server, check func(w *Worker)) {
	t.Helper()
	slow, fast := dialTCP(t, srv), dialTCP(t, srv)
	defer slow.Close()
	defer fast.Close()
	payload := randomBytes(32<<20, 0x510)
	wrote := make(chan error, 1)
	go func() {
		_, err := slow.Write(payload)
		wrote <- err
	}()
	eventually(t, "the slow peer's connection paused on its budget", 60*time.Second, func() bool {
		return srv.Stats().Total().SendBudgetExhausted > 0
	})
	if check != nil {
		onWorker(t, srv, 0, check)
	}
	fast.SetDeadline(time.Now().Add(60 * time.Second))
	if err := echoClient(fast, [][]byte{randomBytes(1024, 0xfa57)}); err != nil {
		t.Fatalf("echo on the other connection while a peer is not reading: %v", err)
	}
	slow.SetDeadline(time.Now().Add(120 * time.Second))
	got := make([]byte, len(payload))
	if _, err := io.ReadFull(slow, got); err != nil {
		t.Fatalf("the slow peer read: %v", err)
	}
	if i := firstDiff(got, payload); i >= 0 {
		t.Fatalf("the slow peer's echo differs at byte %d", i)
	}
	if err := <-wrote; err != nil {
		t.Fatalf("the slow peer's write: %v", err)
	}
}

// TestSmallConfigEveryHandler guards the promise that every Config Validate
// accepts works with every handler the API allows: 8 receive buffers, a
// send pool of 16 slots of 4 KiB, a 64 KiB accumulator cap; 500
// connections at once each echo one message of 1 B to 256 KiB, every byte
// checked, with each handler style. (A handler that sends each chunk whole
// used to be handed more than the pool could ever take, and its
// connections were closed or stalled.)
func TestSmallConfigEveryHandler(t *testing.T) {
	for _, style := range handlerStyles {
		t.Run(style.name, func(t *testing.T) {
			forEachBackend(t, func(t *testing.T, cfg Config) {
				cfg.Workers, cfg.BufEntries, cfg.SendSlots, cfg.SendSlotSize, cfg.AccCap = 1, 8, 16, 4096, 64<<10
				closes := make(chan error, 500)
				h := &hooks{data: style.onData, closed: func(c Conn, err error) { closes <- err }}
				srv := serve(t, "tcp", "127.0.0.1:0", cfg, h)
				var wg sync.WaitGroup
				errs := make(chan error, 500)
				for i := range 500 {
					wg.Go(func() {
						r := rand.New(rand.NewPCG(uint64(i), 0x5ca1e))
						msg := randomBytes(1+r.IntN(1<<r.IntN(19)), uint64(i))
						c, err := net.Dial("tcp", srv.Addr().String())
						if err != nil {
							errs <- err
							return
						}
						defer c.Close()
						c.SetDeadline(time.Now().Add(120 * time.Second))
						if err := echoClient(c, [][]byte{msg}); err != nil {
							errs <- fmt.Errorf("conn %d (%d bytes): %w", i, len(msg), err)
						}
					})
				}
				wg.Wait()
				close(errs)
				for err := range errs {
					t.Error(err)
				}
				for range 500 {
					select {
					case err := <-closes:
						if !errors.Is(err, io.EOF) {
							t.Errorf("a connection closed with %v, want io.EOF (the client's close)", err)
						}
					case <-time.After(60 * time.Second):
						t.Fatal("not every connection closed")
					}
				}
				if st := srv.Stats().Total(); style.name == "forward" && st.Forwarded == 0 {
					t.Error("the forward style sent nothing straight from a receive buffer")
				}
			})
		})
	}
}

// TestSendBudgetRefusals checks the budget's refusals, each naming the
// limit: with an 8 KiB budget and a large pool, OnOpen's Send of 6000 bytes
// is taken; a Send of 3000 more is refused with ErrSendBudgetExhausted,
// queueing nothing; a 9000-byte Send can never fit and gets
// ErrSendTooLarge; SendSome takes the 2192 bytes left of the budget and
// names the budget too, as does Forward of bytes outside a receive buffer.
// The peer reads exactly what was taken, and each refusal is counted.
func TestSendBudgetRefusals(t *testing.T) {
	forEachBackend(t, func(t *testing.T, cfg Config) {
		cfg.Workers, cfg.SendBudget = 1, 8192
		type result struct {
			errs   []error
			n      int
			queued int
		}
		done := make(chan result, 1)
		want := randomBytes(6000+2192, 0xb0d)
		h := &hooks{open: func(c Conn) {
			var r result
			r.errs = append(r.errs, c.Send(want[:6000]), c.Send(randomBytes(3000, 1)), c.Send(randomBytes(9000, 2)))
			var err error
			r.n, err = c.SendSome(append(want[6000:len(want):len(want)], randomBytes(100, 3)...))
			r.errs = append(r.errs, err, c.Forward([]byte("x")))
			r.queued = c.Queued()
			done <- r
			c.Close()
		}}
		srv := serve(t, "tcp", "127.0.0.1:0", cfg, h)
		conn := dialTCP(t, srv)
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(60 * time.Second))
		got, err := io.ReadAll(conn)
		if err != nil {
			t.Fatal(err)
		}
		r := <-done
		for i, wantErr := range []error{nil, ErrSendBudgetExhausted, ErrSendTooLarge, nil, ErrSendBudgetExhausted} {
			if i == 3 {
				continue // SendSome's error, checked with its count
			}
			if !errors.Is(r.errs[i], wantErr) || (wantErr == nil) != (r.errs[i] == nil) {
				t.Errorf("attempt %d: %v, want %v", i, r.errs[i], wantErr)
			}
		}
		if r.n != 2192 || !errors.Is(r.errs[3], ErrSendBudgetExhausted) {
			t.Errorf("SendSome took %d bytes with %v, want 2192 and ErrSendBudgetExhausted", r.n, r.errs[3])
		}
		if r.queued != 8192 {
			t.Errorf("Queued = %d after the refusals, want 8192", r.queued)
		}
		if i := firstDiff(got, want); i >= 0 {
			t.Errorf("peer read %d bytes (want %d), differing at %d", len(got), len(want), i)
		}
		if n := srv.Stats().Total().SendBudgetExhausted; n != 3 {
			t.Errorf("SendBudgetExhausted = %d, want 3", n)
		}
	})
}

// TestForwardDoesNotDrainReceiveBuffers guards the receive ring against a
// connection that forwards small pieces to a peer that does not read: each
// piece holds a whole receive buffer until it is sent, so without a cap
// one such connection took all 16 buffers of the ring and every other
// connection's receive found it empty. Past its share the worker copies
// instead; a second connection's echo must still come back while the slow
// peer is not reading, and the slow peer then gets all of its bytes.
func TestForwardDoesNotDrainReceiveBuffers(t *testing.T) {
	forEachBackend(t, func(t *testing.T, cfg Config) {
		cfg.Workers, cfg.BufEntries, cfg.BufSize = 1, 16, 4096
		pieces := func(c Conn, data []byte) int {
			n := 0
			for n < len(data) {
				m := min(64, len(data)-n)
				if c.Forward(data[n:n+m]) != nil {
					break
				}
				n += m
			}
			return n
		}
		srv := serve(t, "tcp", "127.0.0.1:0", cfg, &hooks{data: pieces})
		slowAndFast(t, srv, func(w *Worker) {
			if 2*w.held > len(w.rxRefs) {
				t.Errorf("%d forwarding segments hold receive buffers, more than half the ring of %d", w.held, len(w.rxRefs))
			}
		})
	})
}
