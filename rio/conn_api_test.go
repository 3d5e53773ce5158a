//go:build linux

package rio

import (
	"errors"
	"io"
	"net"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// apiHandler reports, from the worker, what the Conn methods say about
// each new connection, then acts as the test asks through onData.
type apiHandler struct {
	NopHandler
	opened chan connFacts
	closed chan error
	onData func(c Conn, data []byte) int
}

type connFacts struct {
	local, remote net.Addr
	value         any
}

func (h *apiHandler) OnOpen(c Conn) {
	c.SetValue("v" + c.RemoteAddr().String())
	h.opened <- connFacts{c.LocalAddr(), c.RemoteAddr(), c.Value()}
}

func (h *apiHandler) OnData(c Conn, data []byte) int { return h.onData(c, data) }

func (h *apiHandler) OnClose(_ Conn, err error) { h.closed <- err }

// TestConnAddressesAndValue checks LocalAddr and RemoteAddr against the
// client's view of the same connection, and the per-connection value.
func TestConnAddressesAndValue(t *testing.T) {
	forEachBackend(t, func(t *testing.T, cfg Config) {
		h := &apiHandler{opened: make(chan connFacts, 1), closed: make(chan error, 1),
			onData: func(Conn, []byte) int { return 0 }}
		srv := serve(t, "tcp", "127.0.0.1:0", cfg, h)
		c, err := net.Dial("tcp", srv.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		f := <-h.opened
		if f.local.String() != c.RemoteAddr().String() || f.remote.String() != c.LocalAddr().String() {
			t.Errorf("server sees %v <- %v, client %v -> %v", f.local, f.remote, c.LocalAddr(), c.RemoteAddr())
		}
		if f.value != "v"+c.LocalAddr().String() {
			t.Errorf("Value() = %v", f.value)
		}
	})
}

// TestConnAbort checks that Abort resets the connection: queued data is
// dropped, the peer reads ECONNRESET, and OnClose gets ErrAborted.
func TestConnAbort(t *testing.T) {
	forEachBackend(t, func(t *testing.T, cfg Config) {
		h := &apiHandler{opened: make(chan connFacts, 1), closed: make(chan error, 1)}
		h.onData = func(c Conn, data []byte) int {
			c.Abort()
			if err := c.Send([]byte("late")); !errors.Is(err, ErrStaleConn) && !errors.Is(err, ErrConnClosing) {
				t.Errorf("Send after Abort: %v", err)
			}
			return len(data)
		}
		srv := serve(t, "tcp", "127.0.0.1:0", cfg, h)
		c, err := net.Dial("tcp", srv.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		<-h.opened
		c.Write([]byte("abort me"))
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		_, err = io.ReadAll(c)
		if !errors.Is(err, syscall.ECONNRESET) {
			t.Errorf("client read after Abort: %v, want ECONNRESET", err)
		}
		if err := <-h.closed; !errors.Is(err, ErrAborted) {
			t.Errorf("OnClose: %v, want ErrAborted", err)
		}
	})
}

// TestUnixEcho serves a Unix stream socket: the socket file exists while
// the server runs and is removed by Close.
func TestUnixEcho(t *testing.T) {
	forEachBackend(t, func(t *testing.T, cfg Config) {
		path := t.TempDir() + "/echo.sock"
		srv, err := Listen(t.Context(), "unix", path, cfg, echoHandler{})
		if err != nil {
			t.Fatal(err)
		}
		if srv.Addr().String() != path {
			t.Errorf("Addr() = %v, want %s", srv.Addr(), path)
		}
		c, err := net.Dial("unix", path)
		if err != nil {
			srv.Close()
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(30 * time.Second))
		if err := echoClient(c, [][]byte{[]byte("over a unix socket"), make([]byte, 100<<10)}); err != nil {
			t.Error(err)
		}
		c.Close()
		srv.Close()
		if _, err := net.Dial("unix", path); err == nil {
			t.Error("the socket still answers after Close")
		}
	})
}

// A receive held in OnOpen stays held: nothing is delivered until
// ResumeReceive, and then everything the peer sent is.
func TestHoldReceiveInOnOpen(t *testing.T) {
	forEachBackend(t, func(t *testing.T, cfg Config) {
		cfg.Workers = 1
		opened := make(chan Conn, 1)
		var got atomic.Int64
		all := make(chan struct{})
		h := &hooks{
			open: func(c Conn) {
				if err := c.HoldReceive(); err != nil {
					t.Errorf("HoldReceive: %v", err)
				}
				opened <- c
			},
			data: func(_ Conn, p []byte) int {
				if got.Add(int64(len(p))) == 5 {
					close(all)
				}
				return len(p)
			},
		}
		srv := serve(t, "tcp", "127.0.0.1:0", cfg, h)
		conn := dialTCP(t, srv)
		defer conn.Close()
		c := <-opened
		if _, err := conn.Write([]byte("hello")); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond) // room for a receive that should not be armed
		if n := got.Load(); n != 0 {
			t.Fatalf("%d bytes delivered while the receive was held", n)
		}
		if err := srv.Run(0, func(*Worker) { c.ResumeReceive() }); err != nil {
			t.Fatal(err)
		}
		within(t, "delivery after ResumeReceive", all, 10*time.Second)
	})
}
