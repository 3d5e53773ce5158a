//go:build linux

package rio

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestStopAccepting checks Server.StopAccepting: once every worker's
// listener is closed, dials are refused and no further OnOpen runs (a
// connection the kernel completed meanwhile is closed unopened), while
// the connection opened before goes on echoing until it closes; the
// workers live until Shutdown, which then returns nil. A datagram server
// refuses StopAccepting.
func TestStopAccepting(t *testing.T) {
	forEachBackend(t, func(t *testing.T, cfg Config) {
		var opened atomic.Int32
		closed := make(chan error, 1)
		h := &hooks{
			open: func(Conn) { opened.Add(1) },
			data: echoHandler{}.OnData,
			closed: func(c Conn, err error) {
				closed <- err
			},
		}
		srv := serve(t, "tcp", "127.0.0.1:0", cfg, h)
		conn := dialTCP(t, srv)
		defer conn.Close()
		echoOnce(t, conn, "before")

		if err := srv.StopAccepting(); err != nil {
			t.Fatalf("StopAccepting: %v", err)
		}
		eventually(t, "dials refused once the listeners closed", 30*time.Second, func() bool {
			c, err := net.Dial("tcp", srv.Addr().String())
			switch {
			case err == nil:
				c.Close() // completed by the kernel before its listener closed
			case errors.Is(err, syscall.ECONNRESET):
				// in the backlog of a listener as it closed
			case !errors.Is(err, syscall.ECONNREFUSED):
				t.Fatalf("dial after StopAccepting: %v, want ECONNREFUSED", err)
			}
			return errors.Is(err, syscall.ECONNREFUSED)
		})
		echoOnce(t, conn, "after")
		if n := opened.Load(); n != 1 {
			t.Errorf("OnOpen ran %d times, want once: for the connection made before StopAccepting", n)
		}
		select {
		case <-srv.Done():
			t.Fatal("the workers ended on StopAccepting")
		default:
		}
		conn.Close()
		wantClose(t, closed, io.EOF)
		if err := srv.Shutdown(t.Context()); err != nil {
			t.Fatalf("Shutdown after StopAccepting: %v", err)
		}

		udp, err := ListenUDP(t.Context(), "udp", "127.0.0.1:0", Config{Backend: cfg.Backend, Workers: 1},
			datagramFunc(func(*Worker, netip.AddrPort, []byte) {}))
		if err != nil {
			t.Fatal(err)
		}
		defer udp.Close()
		if err := udp.StopAccepting(); err == nil {
			t.Error("StopAccepting on a datagram server succeeded, want an error")
		}
	})
}

// echoOnce sends msg on conn and reads it back.
func echoOnce(t *testing.T, conn net.Conn, msg string) {
	t.Helper()
	if _, err := conn.Write([]byte(msg)); err != nil {
		t.Fatalf("write %q: %v", msg, err)
	}
	buf := make([]byte, len(msg))
	if _, err := io.ReadFull(conn, buf); err != nil || string(buf) != msg {
		t.Fatalf("echo of %q: %q, %v", msg, buf, err)
	}
}
