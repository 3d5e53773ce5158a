//go:build linux

package rio

import (
	"context"
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
	"time"
)

// readToEnd reads conn until an error and returns the bytes read and the
// error (io.EOF for a clean end).
func readToEnd(conn net.Conn) (int, error) {
	conn.SetReadDeadline(time.Now().Add(60 * time.Second))
	buf := make([]byte, 64<<10)
	total := 0
	for {
		n, err := conn.Read(buf)
		total += n
		if err != nil {
			return total, err
		}
	}
}

// wantReset fails unless the peer's reads ended with a reset.
func wantReset(t *testing.T, what string, conn net.Conn) {
	t.Helper()
	if n, err := readToEnd(conn); !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("%s: the peer read %d bytes and then %v, want a reset (ECONNRESET)", what, n, err)
	}
}

// TestDroppedDataResets guards the promise that data the runtime drops is
// never presented to the peer as a complete stream: a connection closed
// past its accumulator cap, after a callback panic, at a shutdown deadline
// with replies still queued, or refused past the connection limit is reset;
// a graceful close that delivered everything still ends with a clean EOF.
func TestDroppedDataResets(t *testing.T) {
	forEachBackend(t, func(t *testing.T, cfg Config) {
		cfg.Workers = 1
		t.Run("AccCap", func(t *testing.T) {
			cfg := cfg
			cfg.AccCap = 1024
			srv := serve(t, "tcp", "127.0.0.1:0", cfg, &hooks{data: func(Conn, []byte) int { return 0 }})
			conn := dialTCP(t, srv)
			defer conn.Close()
			conn.Write(randomBytes(4096, 1))
			wantReset(t, "past AccCap", conn)
		})
		t.Run("panic", func(t *testing.T) {
			srv := serve(t, "tcp", "127.0.0.1:0", cfg, &hooks{data: func(Conn, []byte) int { panic("handler bug") }})
			conn := dialTCP(t, srv)
			defer conn.Close()
			conn.Write([]byte("boom"))
			wantReset(t, "after an OnData panic", conn)
		})
		t.Run("shutdown deadline", func(t *testing.T) {
			cfg := cfg
			cfg.SendBudget = 16 << 20
			queued := make(chan struct{})
			srv, err := Listen(context.Background(), "tcp", "127.0.0.1:0", cfg, &hooks{open: func(c Conn) {
				for range 16 {
					c.Send(randomBytes(1<<20, 2)) // more than the sockets buffer: the peer does not read
				}
				close(queued)
			}})
			if err != nil {
				t.Fatal(err)
			}
			conn := dialTCP(t, srv)
			defer conn.Close()
			within(t, "OnOpen queueing 16 MiB", queued, 60*time.Second)
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			if err := srv.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("Shutdown with a peer not reading: %v, want the deadline", err)
			}
			wantReset(t, "replies dropped at the shutdown deadline", conn)
		})
		t.Run("connection limit", func(t *testing.T) {
			cfg := cfg
			cfg.MaxConns = 1
			srv := serve(t, "tcp", "127.0.0.1:0", cfg, echoHandler{})
			held := dialTCP(t, srv)
			defer held.Close()
			held.SetDeadline(time.Now().Add(60 * time.Second))
			if err := echoClient(held, [][]byte{[]byte("in")}); err != nil {
				t.Fatal(err)
			}
			conn, err := net.Dial("tcp", srv.Addr().String())
			if err != nil {
				if !errors.Is(err, syscall.ECONNRESET) {
					t.Fatalf("dial past the limit: %v, want success or a reset", err)
				}
				return
			}
			defer conn.Close()
			wantReset(t, "past MaxConns", conn)
		})
		t.Run("counted", func(t *testing.T) {
			srv := serve(t, "tcp", "127.0.0.1:0", cfg, &hooks{data: func(c Conn, p []byte) int {
				c.Send(p)
				c.Abort() // queued bytes dropped: one reset, counted once
				return len(p)
			}})
			conn := dialTCP(t, srv)
			defer conn.Close()
			conn.Write([]byte("drop me"))
			wantReset(t, "Abort with a reply queued", conn)
			eventually(t, "the reset counted", 30*time.Second, func() bool { return srv.Stats().Total().Resets > 0 })
			if n := srv.Stats().Total().Resets; n != 1 {
				t.Errorf("Resets = %d after one Abort, want 1", n)
			}
		})
		t.Run("graceful", func(t *testing.T) {
			want := randomBytes(256<<10, 3)
			srv := serve(t, "tcp", "127.0.0.1:0", cfg, &hooks{open: func(c Conn) {
				c.Send(want)
				c.Close()
			}})
			conn := dialTCP(t, srv)
			defer conn.Close()
			n, err := readToEnd(conn)
			if !errors.Is(err, io.EOF) || n != len(want) {
				t.Errorf("after a graceful close: read %d bytes and %v, want %d and a clean EOF", n, err, len(want))
			}
		})
	})
}
