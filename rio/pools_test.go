//go:build linux

package rio

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestBufferPoolExhaustionRecovers checks that a worker whose pool of
// receive buffers runs dry (4 buffers of 4 KiB shared by 8 busy
// connections) loses no byte and no connection: the receives that found the
// pool empty are re-armed, every echo comes back intact, and the empty-pool
// events are counted in Stats.
func TestBufferPoolExhaustionRecovers(t *testing.T) {
	forEachBackend(t, func(t *testing.T, cfg Config) {
		cfg.BufEntries, cfg.BufSize, cfg.Workers = 4, 4096, 1
		srv := serve(t, "tcp", "127.0.0.1:0", cfg, echoHandler{})
		echoClients(t, srv.Addr().String(), 8, 6, 64<<10, 0xb0f)
		st := srv.Stats().Total()
		if st.ENOBUFS == 0 {
			t.Errorf("Stats().Total().ENOBUFS = 0: 8 connections echoing up to 64 KiB through 4 receive buffers never found the pool empty (stats %+v)", st)
		} else {
			t.Logf("ENOBUFS %d, CQEs %d, bytes in %d", st.ENOBUFS, st.CQEs, st.BytesIn)
		}
	})
}

// TestEchoThroughSmallSendPool checks the backpressure promise for the
// handler pattern the README and examples/echo use (SendSome, consuming what
// the pool took; the rest is offered again): with a send pool of 8 slots
// (8 KiB, less than one receive buffer, so every backend runs it dry), far
// less than the 1 MiB or so each of two clients writes while reading, every
// echo must still come back. The deadline on the connections only
// guards against a hang.
func TestEchoThroughSmallSendPool(t *testing.T) {
	forEachBackend(t, func(t *testing.T, cfg Config) {
		cfg.SendSlots, cfg.SendSlotSize, cfg.Workers = 8, 1024, 1
		cfg.SendBudget = 8 << 10 // the pool, not the budget, is the limit here
		srv := serve(t, "tcp", "127.0.0.1:0", cfg, echoHandler{})
		echoClients(t, srv.Addr().String(), 2, 8, 256<<10, 0x5e4d)
		if t.Failed() {
			onWorker(t, srv, 0, func(w *Worker) {
				for i := range uint32(w.conns.made()) {
					if s := w.conns.at(i); s.state != connFree {
						t.Logf("slot %d: paused %v, %d bytes unconsumed, send pool %d of %d slots free",
							i, s.is(markPaused), len(s.acc), w.pool.available(), cfg.SendSlots)
					}
				}
			})
		}
		if n := srv.Stats().Total().SendPoolExhausted; n == 0 {
			t.Errorf("the 8-slot send pool never ran out: backpressure was not exercised")
		}
	})
}

// TestBackpressureBoundsInput checks that backpressure, not the receive
// accumulator, absorbs a fast sender: a handler that echoes in 4 KiB pieces
// and leaves what the 8-slot (128 KiB) send pool refuses unconsumed, and a
// client pushing 8 MiB at once. Pausing the receive while blocked must keep
// the unconsumed bytes under Config.AccCap (1 MiB by default), so every
// byte comes back and the connection ends with the client's io.EOF, not
// ErrRecvBufferFull.
func TestBackpressureBoundsInput(t *testing.T) {
	forEachBackend(t, func(t *testing.T, cfg Config) {
		cfg.SendSlots, cfg.Workers = 8, 1
		cfg.SendBudget = 8 * DefaultSendSlotSize // the pool, not the budget, refuses here
		closed := make(chan error, 1)
		h := &hooks{
			data:   pieceEcho,
			closed: func(c Conn, err error) { closed <- err },
		}
		srv := serve(t, "tcp", "127.0.0.1:0", cfg, h)
		conn := dialTCP(t, srv)
		defer conn.Close()

		want := randomBytes(8<<20, 5)
		got, err, werr := writeHalfCloseReadAll(conn, want)
		wantClose(t, closed, io.EOF)
		if werr != nil || err != nil {
			t.Fatalf("client: write: %v; read after %d of %d bytes: %v", werr, len(got), len(want), err)
		}
		if i := firstDiff(got, want); i >= 0 {
			t.Errorf("echo of %d bytes (want %d) differs at byte %d", len(got), len(want), i)
		}
	})
}

// frame builds a message of size bytes in all: a 4-byte big-endian payload
// length, then the payload: id, then bytes derived from id and position.
func frame(id byte, size int) []byte {
	m := make([]byte, size)
	binary.BigEndian.PutUint32(m, uint32(size-4))
	m[4] = id
	for i := 5; i < size; i++ {
		m[i] = id*37 + byte(i%251)
	}
	return m
}

// readFrames parses frames from r until EOF, checking each one's content;
// it returns the ids and sizes in order, and an error for a torn or
// corrupted frame.
func readFrames(r io.Reader) (ids []byte, sizes []int, err error) {
	var hdr [4]byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			if err == io.EOF {
				return ids, sizes, nil
			}
			return ids, sizes, fmt.Errorf("frame %d header: %w", len(ids), err)
		}
		n := int(binary.BigEndian.Uint32(hdr[:]))
		if n < 1 || n > 1<<20 {
			return ids, sizes, fmt.Errorf("frame %d: implausible payload length %d", len(ids), n)
		}
		p := make([]byte, n)
		if _, err := io.ReadFull(r, p); err != nil {
			return ids, sizes, fmt.Errorf("frame %d: payload of %d bytes: %w", len(ids), n, err)
		}
		want := frame(p[0], n+4)
		if i := firstDiff(p, want[4:]); i >= 0 {
			return ids, sizes, fmt.Errorf("frame %d (id %d): payload differs at byte %d", len(ids), p[0], i)
		}
		ids = append(ids, p[0])
		sizes = append(sizes, n+4)
	}
}

// TestSendPoolExhaustedWholeMessage checks that Send takes a message whole
// or not at all: with a 4-slot pool of 4 KiB, OnOpen queues frames A (6000
// bytes) and B (5000); C (10000) needs three more slots than the one left
// and is refused with ErrSendPoolExhausted, queueing nothing; D (1000) still
// fits the last slot's free tail. The peer must then read exactly A, B, D,
// whole and in order, and EOF: no byte of C. The refusal is counted.
func TestSendPoolExhaustedWholeMessage(t *testing.T) {
	forEachBackend(t, func(t *testing.T, cfg Config) {
		cfg.SendSlots, cfg.SendSlotSize, cfg.Workers = 4, 4096, 1
		cfg.SendBudget = 4 * 4096 // the pool, not the budget, is the limit here
		type attempt struct {
			id           byte
			size         int
			err          error
			queuedBefore int
			queuedAfter  int
		}
		plan := []struct {
			id   byte
			size int
		}{{'A', 6000}, {'B', 5000}, {'C', 10000}, {'D', 1000}}
		results := make(chan []attempt, 1)
		closed := make(chan error, 1)
		h := &hooks{
			open: func(c Conn) {
				var got []attempt
				for _, p := range plan {
					a := attempt{id: p.id, size: p.size, queuedBefore: c.Queued()}
					a.err = c.Send(frame(p.id, p.size))
					a.queuedAfter = c.Queued()
					got = append(got, a)
				}
				results <- got
				c.Close()
			},
			closed: func(c Conn, err error) { closed <- err },
		}
		srv := serve(t, "tcp", "127.0.0.1:0", cfg, h)
		conn := dialTCP(t, srv)
		defer conn.Close()

		ids, sizes, err := readFrames(conn)
		if err != nil {
			t.Errorf("peer: %v (frames so far %q)", err, ids)
		}
		if string(ids) != "ABD" {
			t.Errorf("peer read frames %q (sizes %v), want \"ABD\": accepted frames whole, nothing of the refused C", ids, sizes)
		}
		var got []attempt
		select {
		case got = <-results:
		case <-time.After(30 * time.Second):
			t.Fatal("OnOpen never reported")
		}
		for _, a := range got {
			switch a.id {
			case 'C':
				if !errors.Is(a.err, ErrSendPoolExhausted) {
					t.Errorf("Send(C, %d bytes) = %v, want ErrSendPoolExhausted", a.size, a.err)
				}
				if a.queuedAfter != a.queuedBefore {
					t.Errorf("refused Send(C) changed Queued from %d to %d", a.queuedBefore, a.queuedAfter)
				}
			default:
				if a.err != nil {
					t.Errorf("Send(%c, %d bytes) = %v, want nil", a.id, a.size, a.err)
				}
				if a.queuedAfter != a.queuedBefore+a.size {
					t.Errorf("Send(%c) moved Queued from %d to %d, want +%d", a.id, a.queuedBefore, a.queuedAfter, a.size)
				}
			}
		}
		conn.Close()
		wantClose(t, closed, ErrLocalClose)
		if n := srv.Stats().Total().SendPoolExhausted; n != 1 {
			t.Errorf("Stats().Total().SendPoolExhausted = %d, want 1", n)
		}
		onWorker(t, srv, 0, func(w *Worker) {
			if a := w.pool.available(); a != cfg.SendSlots {
				t.Errorf("send pool has %d free slots after the connection closed, want all %d", a, cfg.SendSlots)
			}
		})
	})
}

// TestRecvAccumulatorCap checks Config.AccCap: a handler that never
// consumes (OnData returns 0) makes the connection hold every byte; past
// 64 KiB it is closed with ErrRecvBufferFull, and the client sees its
// connection end (EOF or reset) rather than hang.
func TestRecvAccumulatorCap(t *testing.T) {
	forEachBackend(t, func(t *testing.T, cfg Config) {
		cfg.AccCap, cfg.AccInitial, cfg.Workers = 64<<10, 1024, 1
		var mu sync.Mutex
		most := 0 // the most bytes OnData was offered at once
		closed := make(chan error, 1)
		h := &hooks{
			data: func(c Conn, p []byte) int {
				mu.Lock()
				most = max(most, len(p))
				mu.Unlock()
				return 0
			},
			closed: func(c Conn, err error) { closed <- err },
		}
		srv := serve(t, "tcp", "127.0.0.1:0", cfg, h)
		conn := dialTCP(t, srv)
		defer conn.Close()

		wrote := make(chan error, 1)
		go func() {
			_, err := conn.Write(make([]byte, 100<<10))
			wrote <- err // may fail once the server has reset the connection
		}()
		wantClose(t, closed, ErrRecvBufferFull)
		n, err := io.Copy(io.Discard, conn)
		if err != nil && !isConnEnd(err) {
			t.Errorf("client read after the cap: %d bytes, %v; want EOF or a reset", n, err)
		}
		<-wrote
		mu.Lock()
		defer mu.Unlock()
		if most > cfg.AccCap {
			t.Errorf("OnData was offered %d bytes at once, more than AccCap %d", most, cfg.AccCap)
		}
	})
}

// isConnEnd reports whether err is the peer ending the connection: a reset
// or a broken pipe (EOF is nil from io.Copy, io.EOF from Read).
func isConnEnd(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}
