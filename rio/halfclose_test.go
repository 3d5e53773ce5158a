//go:build linux

package rio

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

// TestClientHalfClose checks the peer's FIN arriving while echoes are still
// owed: the client writes 1 MiB and shuts its write side; it must read back
// every byte, then EOF, and the server's OnClose must get io.EOF. With a
// 128 KiB send pool the FIN arrives while the connection is blocked on the
// pool, so the bytes not yet consumed must still be echoed before the close.
func TestClientHalfClose(t *testing.T) {
	forEachBackend(t, func(t *testing.T, cfg Config) {
		for _, tc := range []struct {
			name  string
			slots int
			echo  func(Conn, []byte) int
		}{
			{"default-pool", 0, echoHandler{}.OnData},
			{"small-pool", 8, pieceEcho},
		} {
			t.Run(tc.name, func(t *testing.T) {
				cfg := cfg
				cfg.Workers, cfg.SendSlots = 1, tc.slots
				if tc.slots != 0 {
					cfg.SendSlotSize = 1024  // 8 KiB: less than one receive buffer, so every backend runs it dry
					cfg.SendBudget = 8 << 10 // the pool, not the budget, is the limit here
				}
				closed := make(chan error, 1)
				afterFIN := 0 // OnData calls made after the peer's FIN arrived
				h := &hooks{
					data: func(c Conn, p []byte) int {
						if s, err := c.slot(); err == nil && s.is(markPeerEOF) {
							afterFIN++
						}
						return tc.echo(c, p)
					},
					closed: func(c Conn, err error) {
						closed <- err
					},
				}
				srv := serve(t, "tcp", "127.0.0.1:0", cfg, h)
				conn := dialTCP(t, srv)
				defer conn.Close()

				want := randomBytes(1<<20, 1)
				got, err, werr := writeHalfCloseReadAll(conn, want)
				if werr != nil {
					t.Fatalf("write 1 MiB and CloseWrite: %v", werr)
				}
				if err != nil {
					t.Fatalf("read after %d bytes: %v", len(got), err)
				}
				if i := firstDiff(got, want); i >= 0 {
					t.Fatalf("echo of %d bytes (want %d) differs at byte %d", len(got), len(want), i)
				}
				wantClose(t, closed, io.EOF)
				if tc.slots != 0 {
					if n := srv.Stats().Total().SendPoolExhausted; n == 0 {
						t.Errorf("the %d-slot send pool never ran out: the blocked path was not exercised", tc.slots)
					}
					onWorker(t, srv, 0, func(*Worker) {
						t.Logf("OnData calls after the peer's FIN: %d", afterFIN)
					})
				}
			})
		}
	})
}

// TestServerCloseWrite checks Conn.CloseWrite: OnOpen sends a greeting and
// half-closes; a Send after that is refused with ErrConnClosing. The client
// reads the greeting then EOF, yet the connection still carries the
// client's data to OnData; when the client closes, OnClose gets io.EOF.
func TestServerCloseWrite(t *testing.T) {
	forEachBackend(t, func(t *testing.T, cfg Config) {
		cfg.Workers = 1
		greeting := []byte("hello, then FIN")
		var mu sync.Mutex
		var received bytes.Buffer
		sendAfter := make(chan error, 1)
		closed := make(chan error, 1)
		h := &hooks{
			open: func(c Conn) {
				if err := c.Send(greeting); err != nil {
					t.Errorf("Send(greeting): %v", err)
				}
				if err := c.CloseWrite(); err != nil {
					t.Errorf("CloseWrite: %v", err)
				}
				sendAfter <- c.Send([]byte("too late"))
			},
			data: func(c Conn, p []byte) int {
				mu.Lock()
				received.Write(p)
				mu.Unlock()
				return len(p)
			},
			closed: func(c Conn, err error) { closed <- err },
		}
		srv := serve(t, "tcp", "127.0.0.1:0", cfg, h)
		conn := dialTCP(t, srv)
		defer conn.Close()

		got, err := io.ReadAll(conn)
		if err != nil || !bytes.Equal(got, greeting) {
			t.Fatalf("client read %q, %v; want %q then EOF", got, err, greeting)
		}
		if err := <-sendAfter; !errors.Is(err, ErrConnClosing) {
			t.Errorf("Send after CloseWrite = %v, want ErrConnClosing", err)
		}

		payload := make([]byte, 200<<10)
		for i := range payload {
			payload[i] = byte(i % 253)
		}
		if _, err := conn.Write(payload); err != nil {
			t.Fatalf("client write after the server's FIN: %v", err)
		}
		eventually(t, "the server received the client's data", 30*time.Second, func() bool {
			mu.Lock()
			defer mu.Unlock()
			return received.Len() >= len(payload)
		})
		select {
		case err := <-closed:
			t.Fatalf("OnClose ran (%v) before the client closed", err)
		default:
		}
		conn.Close()
		wantClose(t, closed, io.EOF)
		mu.Lock()
		defer mu.Unlock()
		if i := firstDiff(received.Bytes(), payload); i >= 0 {
			t.Errorf("server received %d bytes (want %d), differing at byte %d", received.Len(), len(payload), i)
		}
	})
}

// TestGracefulCloseDeliversQueued checks that Close does not lose queued
// sends: OnOpen queues 4 MiB in 64 KiB Sends and closes at once; the client
// must read exactly those 4 MiB, then EOF, and OnClose gets ErrLocalClose.
func TestGracefulCloseDeliversQueued(t *testing.T) {
	forEachBackend(t, func(t *testing.T, cfg Config) {
		cfg.Workers, cfg.SendSlots, cfg.SendSlotSize = 1, 512, 16<<10
		cfg.SendBudget = 4 << 20 // all of it queued at once, on one connection
		want := make([]byte, 4<<20)
		r := rand.New(rand.NewPCG(3, 4))
		for i := range want {
			want[i] = byte(r.Uint32())
		}
		closed := make(chan error, 1)
		h := &hooks{
			open: func(c Conn) {
				for off := 0; off < len(want); off += 64 << 10 {
					if err := c.Send(want[off : off+64<<10]); err != nil {
						t.Errorf("Send at offset %d: %v", off, err)
						break
					}
				}
				if err := c.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			},
			closed: func(c Conn, err error) { closed <- err },
		}
		srv := serve(t, "tcp", "127.0.0.1:0", cfg, h)
		conn := dialTCP(t, srv)
		defer conn.Close()

		got, err := io.ReadAll(conn)
		if err != nil {
			t.Fatalf("read after %d bytes: %v", len(got), err)
		}
		if i := firstDiff(got, want); i >= 0 {
			t.Fatalf("read %d bytes (want %d), differing at byte %d", len(got), len(want), i)
		}
		conn.Close()
		wantClose(t, closed, ErrLocalClose)
	})
}
