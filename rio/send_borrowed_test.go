//go:build linux

package rio

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"runtime"
	"testing"
	"time"

	"github.com/ringline-go/ringline/internal/gcchurn"
)

// SendBorrowed sends 4 MiB of the handler's own memory, a budget's
// worth at a time as sends complete, with no send-pool slot: the client
// gets every byte in order. On a TLS connection it copies (and encrypts).
func TestSendBorrowed(t *testing.T) {
	forEachBackend(t, func(t *testing.T, cfg Config) {
		cfg.Workers = 1
		cfg.SendBudget = 256 << 10
		cfg.SendSlots = 4             // far less than the message: borrowed bytes take no slot
		big := randomBytes(4<<20, 11) // not pinned here: SendBorrowed pins what it queues
		queued := 0
		more := func(c Conn) {
			n, err := c.SendBorrowed(big[queued:])
			queued += n
			if err != nil && !errors.Is(err, ErrSendBudgetExhausted) {
				t.Errorf("SendBorrowed: %v", err)
			}
		}
		h := &hooks{
			open: func(c Conn) { more(c) },
			sent: func(c Conn, _ int) {
				switch {
				case queued < len(big):
					more(c)
				case c.Queued() == 0:
					c.Close()
				}
			},
		}
		srv := serve(t, "tcp", "127.0.0.1:0", cfg, h)
		conn := dialTCP(t, srv)
		defer conn.Close()
		got, err := io.ReadAll(conn)
		if err != nil || !bytes.Equal(got, big) {
			t.Fatalf("read %d of %d bytes (%v), or they differ", len(got), len(big), err)
		}
		if st := srv.Stats().Total(); st.SendPoolExhausted != 0 {
			t.Errorf("Stats.SendPoolExhausted = %d: borrowed bytes took pool slots", st.SendPoolExhausted)
		}

		cert, pool := testCert(t)
		tcfg := tlsServerConfig(cfg, cert)
		tcfg.SendSlots = 64
		tsrv := serve(t, "tcp", "127.0.0.1:0", tcfg, &hooks{open: func(c Conn) {
			msg := []byte("lent, then encrypted")
			if n, err := c.SendBorrowed(msg); n != len(msg) || err != nil {
				t.Errorf("SendBorrowed on a TLS connection: %d, %v", n, err)
			}
			clear(msg) // a copy was taken: the memory is the caller's again
			c.Close()
		}})
		tc := dialTLS(t, tsrv.Addr().String(), &tls.Config{RootCAs: pool})
		defer tc.Close()
		if got, err := io.ReadAll(tc); err != nil || string(got) != "lent, then encrypted" {
			t.Errorf("TLS client read %q, %v", got, err)
		}
	})
}

// SendBorrowed of memory that the handler drops once it is sent, round
// after round, while the garbage collector runs without pause: the
// iovecs (outside the Go heap) still hold the address of each sent
// buffer when the next send overwrites them, after the collector may have
// freed it. Stored with a write barrier, that old address is shaded and
// the runtime throws "found bad pointer in Go heap".
func TestSendBorrowedFreedMemory(t *testing.T) {
	forEachBackend(t, func(t *testing.T, cfg Config) {
		cfg.Workers = 1
		const rounds, size = 1000, 40 << 10 // a large object: a span of its own, freed whole
		h := &hooks{data: func(c Conn, p []byte) int {
			buf := make([]byte, size) // garbage once sent
			buf[0], buf[size-1] = p[0], p[0]
			if n, err := c.SendBorrowed(buf); n != size || err != nil {
				t.Errorf("SendBorrowed: %d, %v", n, err)
			}
			return len(p)
		}}
		srv := serve(t, "tcp", "127.0.0.1:0", cfg, h)
		conn := dialTCP(t, srv)
		defer conn.Close()
		gcchurn.Start(t)
		back := make([]byte, size)
		for i := range rounds {
			if _, err := conn.Write([]byte{byte(i)}); err != nil {
				t.Fatal(err)
			}
			if _, err := io.ReadFull(conn, back); err != nil {
				t.Fatalf("round %d: %v", i, err)
			}
			if back[0] != byte(i) || back[size-1] != byte(i) {
				t.Fatalf("round %d: got %d and %d at the ends", i, back[0], back[size-1])
			}
		}
	})
}

// Memory lent with SendBorrowed is pinned only while a send of it is in
// flight: a buffer whose bytes were sent can be collected while a later
// one is still queued for a peer that stopped reading. (Pinned until the
// queue emptied, every buffer a stream ever lent would stay reachable.)
func TestSendBorrowedSentMemoryCollectable(t *testing.T) {
	forEachBackend(t, func(t *testing.T, cfg Config) {
		cfg.Workers = 1
		cfg.SendBudget = 16 << 20
		const first, second = 64 << 10, 8 << 20
		collected := make(chan struct{})
		h := &hooks{open: func(c Conn) {
			a := make([]byte, first)
			runtime.AddCleanup(&a[0], func(ch chan struct{}) { close(ch) }, collected)
			for _, p := range [][]byte{a, make([]byte, second)} {
				if n, err := c.SendBorrowed(p); n != len(p) || err != nil {
					t.Errorf("SendBorrowed: %d, %v", n, err)
				}
			}
		}}
		srv := serve(t, "tcp", "127.0.0.1:0", cfg, h)
		conn := dialTCP(t, srv)
		defer conn.Close()
		if _, err := io.ReadFull(conn, make([]byte, first)); err != nil { // then read no more
			t.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second) // a hang guard, not a timing assertion
		for {
			runtime.GC()
			select {
			case <-collected:
				return
			case <-time.After(10 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				t.Fatal("the first buffer, sent long ago, was never collected while the second waits")
			}
		}
	})
}

// An echo that hands OnData's own bytes to SendBorrowed returns every
// byte unchanged: that memory is reused once OnData returns, so those
// bytes are copied rather than lent.
func TestSendBorrowedOnDataBytes(t *testing.T) {
	forEachBackend(t, func(t *testing.T, cfg Config) {
		cfg.Workers = 1
		srv := serve(t, "tcp", "127.0.0.1:0", cfg, &hooks{data: func(c Conn, p []byte) int {
			n, _ := c.SendBorrowed(p)
			return n
		}})
		conn := dialTCP(t, srv)
		defer conn.Close()
		msg := randomBytes(4<<20, 5)
		got, rerr, werr := writeHalfCloseReadAll(conn, msg)
		if werr != nil || rerr != nil || !bytes.Equal(got, msg) {
			t.Fatalf("echoed %d of %d bytes (read %v, write %v), or they differ", len(got), len(msg), rerr, werr)
		}
	})
}
