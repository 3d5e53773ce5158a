//go:build linux

package rio

import (
	"errors"
	"net"
	"syscall"
	"testing"
	"time"
)

// Error paths of the worker, driven by completions injected through the
// backend (IORING_NOP_INJECT_RESULT on io_uring), so the real dispatch
// handles them.

// injectHandler hands each new connection's handle to the test.
type injectHandler struct {
	NopHandler
	opened chan Conn
	closed chan error
}

func (h *injectHandler) OnOpen(c Conn)             { h.opened <- c }
func (h *injectHandler) OnClose(_ Conn, err error) { h.closed <- err }

// inject runs Inject on worker w of srv and returns its error.
func inject(t *testing.T, srv *Server, w int, ud uint64, res int32) {
	t.Helper()
	errc := make(chan error, 1)
	if err := srv.Run(w, func(w *Worker) { errc <- w.be.Inject(ud, res) }); err != nil {
		t.Fatal(err)
	}
	switch err := <-errc; {
	case errors.Is(err, errors.ErrUnsupported):
		t.Skipf("backend cannot inject completions here: %v", err)
	case err != nil:
		t.Fatalf("Inject: %v", err)
	}
}

// TestInjectedRecvReset checks that a receive failing with ECONNRESET closes
// the connection, with OnClose given a *net.OpError matching the errno, and
// that the server goes on serving. (The real multishot recv stays armed,
// holding the socket, until the client closes: the injected completion
// stands for its end, so the worker does not cancel it.)
func TestInjectedRecvReset(t *testing.T) {
	forEachBackend(t, func(t *testing.T, cfg Config) {
		cfg.Workers = 1
		h := &injectHandler{opened: make(chan Conn, 1), closed: make(chan error, 1)}
		srv := serve(t, "tcp", "127.0.0.1:0", cfg, h)
		c, err := net.Dial("tcp", srv.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conn := <-h.opened
		requireInject(t, srv)
		inject(t, srv, 0, userData(opRecv, conn.idx, conn.gen), -int32(syscall.ECONNRESET))
		err = <-h.closed
		var op *net.OpError
		if !errors.Is(err, syscall.ECONNRESET) || !errors.As(err, &op) || op.Op != "read" {
			t.Errorf("OnClose: %v, want a read *net.OpError matching ECONNRESET", err)
		}
		c2, err := net.Dial("tcp", srv.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c2.Close()
		<-h.opened
	})
}

// TestInjectedUnknownTag checks that a completion with a tag the worker
// never issues is counted and otherwise ignored.
func TestInjectedUnknownTag(t *testing.T) {
	forEachBackend(t, func(t *testing.T, cfg Config) {
		cfg.Workers = 1
		srv := serve(t, "tcp", "127.0.0.1:0", cfg, echoHandler{})
		requireInject(t, srv)
		inject(t, srv, 0, userData(op(200), 7, 7), 0)
		deadline := time.Now().Add(30 * time.Second)
		for srv.Stats().Total().UnknownTags != 1 {
			if time.Now().After(deadline) {
				t.Fatalf("UnknownTags = %d, want 1", srv.Stats().Total().UnknownTags)
			}
			time.Sleep(time.Millisecond)
		}
	})
}

// requireInject skips unless an injected result comes back as given (Linux
// 6.6+ for io_uring): a timer slot's stale generation is used as the probe,
// which the worker counts as a stale completion.
func requireInject(t *testing.T, srv *Server) {
	t.Helper()
	before := srv.Stats().Total().StaleCompletions
	inject(t, srv, 0, userData(opTimer, 0, 1<<31), -int32(syscall.ETIME))
	deadline := time.Now().Add(30 * time.Second)
	for srv.Stats().Total().StaleCompletions == before {
		if time.Now().After(deadline) {
			t.Skip("the injected probe never came back")
		}
		time.Sleep(time.Millisecond)
	}
}
