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

// eofHooks is hooks with OnPeerEOF: a PeerEOFHandler.
type eofHooks struct {
	hooks
	eof func(c Conn)
}

func (h *eofHooks) OnPeerEOF(c Conn) { h.eof(c) }

// TestPeerEOFHandler checks a PeerEOFHandler: the client writes a request
// and shuts its write side; OnPeerEOF runs once, after OnData was offered
// every byte of the request, and the connection still sends: the reply
// (the request echoed after the FIN, or while it arrived through a small
// pool that pauses the receive: on io_uring the FIN then comes in while
// the connection is paused, and OnPeerEOF must wait for the unconsumed
// bytes) reaches the client whole, then the server's FIN. Close or CloseWrite then ends the connection without
// waiting for a FIN that came already: CloseLinger is far beyond
// wantClose's hang guard.
func TestPeerEOFHandler(t *testing.T) {
	forEachBackend(t, func(t *testing.T, cfg Config) {
		for _, tc := range []struct {
			name   string
			slots  int                    // a small pool pauses the receive while echoing
			finish func(Conn) error       // what OnPeerEOF ends with
			cause  error                  // what OnClose gets
			echo   func(Conn, []byte) int // OnData, nil: keep the request and reply at the FIN
		}{
			{"reply-then-close", 0, Conn.Close, ErrLocalClose, nil},
			{"reply-then-closewrite", 0, Conn.CloseWrite, io.EOF, nil},
			{"paused-echo-then-close", 8, Conn.Close, ErrLocalClose, pieceEcho},
		} {
			t.Run(tc.name, func(t *testing.T) {
				cfg := cfg
				cfg.Workers, cfg.CloseLinger = 1, 10*time.Minute
				if tc.slots != 0 {
					cfg.SendSlots, cfg.SendSlotSize, cfg.SendBudget = tc.slots, 1024, 8<<10
				}
				request := randomBytes(512<<10, 7)
				var kept []byte // the request, kept on the worker for the reply
				got, eofs, afterEOF := 0, 0, 0
				closed := make(chan error, 1)
				atEOF := make(chan [2]int, 1) // bytes consumed when OnPeerEOF ran, and its calls so far
				h := &eofHooks{
					hooks: hooks{
						data: func(c Conn, p []byte) int {
							if eofs > 0 {
								afterEOF++
							}
							n := len(p)
							if tc.echo != nil {
								n = tc.echo(c, p)
							} else {
								kept = append(kept, p...)
							}
							got += n
							return n
						},
						closed: func(c Conn, err error) {
							atEOF <- [2]int{got, eofs}
							closed <- err
						},
					},
					eof: func(c Conn) {
						eofs++
						if tc.echo == nil {
							if err := c.Send(kept); err != nil {
								t.Errorf("Send after the peer's FIN: %v", err)
							}
						}
						if err := tc.finish(c); err != nil {
							t.Errorf("closing after the peer's FIN: %v", err)
						}
					},
				}
				srv := serve(t, "tcp", "127.0.0.1:0", cfg, h)
				conn := dialTCP(t, srv)
				defer conn.Close()

				reply, err, werr := writeHalfCloseReadAll(conn, request)
				if werr != nil {
					t.Fatalf("write the request and CloseWrite: %v", werr)
				}
				if err != nil {
					t.Fatalf("read after %d bytes: %v", len(reply), err)
				}
				if i := firstDiff(reply, request); i >= 0 {
					t.Fatalf("reply of %d bytes (want %d) differs at byte %d", len(reply), len(request), i)
				}
				wantClose(t, closed, tc.cause)
				seen := <-atEOF
				if seen[0] != len(request) || seen[1] != 1 {
					t.Errorf("at the close: %d bytes consumed (want %d), OnPeerEOF ran %d times (want 1)", seen[0], len(request), seen[1])
				}
				onWorker(t, srv, 0, func(*Worker) {
					if afterEOF != 0 {
						t.Errorf("OnData ran %d times after OnPeerEOF", afterEOF)
					}
				})
				if tc.slots != 0 && srv.Stats().Total().SendPoolExhausted == 0 {
					t.Errorf("the %d-slot send pool never ran out: the paused path was not exercised", tc.slots)
				}
			})
		}
	})
}
