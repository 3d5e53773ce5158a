//go:build linux

package rionet

import (
	"context"
	"net"
	"os"
	"testing"

	"golang.org/x/net/nettest"

	"github.com/ringline-go/ringline/internal/leakcheck"
	"github.com/ringline-go/ringline/rio"
)

// TestMain fails the run if a test leaves a descriptor, ring, mapping or
// goroutine behind.
func TestMain(m *testing.M) { os.Exit(leakcheck.Run(m)) }

// backends are the engines this build has.
func backends() []rio.Backend {
	if rio.Probe().AutoBackend == string(rio.BackendIOUring) {
		return []rio.Backend{rio.BackendIOUring, rio.BackendEpoll}
	}
	return []rio.Backend{rio.BackendEpoll}
}

// pipe makes a connected pair: one end dialed by a Dialer, the other
// accepted by a Listener, both served by rio workers.
func pipe(backend rio.Backend) nettest.MakePipe {
	return func() (c1, c2 net.Conn, stop func(), err error) {
		cfg := rio.Config{Backend: backend, Workers: 1}
		ln, err := Listen(context.Background(), "tcp", "127.0.0.1:0", cfg)
		if err != nil {
			return nil, nil, nil, err
		}
		d, err := NewDialer(context.Background(), cfg)
		if err != nil {
			ln.Close()
			return nil, nil, nil, err
		}
		c1, err = d.DialContext(context.Background(), "tcp", ln.Addr().String())
		if err == nil {
			c2, err = ln.Accept()
		}
		stop = func() {
			if c1 != nil {
				c1.Close()
			}
			if c2 != nil {
				c2.Close()
			}
			d.Close()
			ln.Close()
		}
		if err != nil {
			stop()
			return nil, nil, nil, err
		}
		return c1, c2, stop, nil
	}
}

// TestConn is the standard net.Conn conformance suite, on each backend.
func TestConn(t *testing.T) {
	for _, b := range backends() {
		t.Run(string(b), func(t *testing.T) { nettest.TestConn(t, pipe(b)) })
	}
}
