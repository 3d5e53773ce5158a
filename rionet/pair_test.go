//go:build linux

package rionet

import (
	"context"
	"io"
	"net"
	"testing"
	"time"

	"github.com/ringline-go/ringline/rio"
)

// listen starts a Listener on 127.0.0.1 with cfg for the test, closed at
// its end.
func listen(t *testing.T, cfg rio.Config) *Listener {
	t.Helper()
	ln, err := Listen(context.Background(), "tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// pairOn connects a kernel socket to ln and accepts it: the adapter Conn
// and the socket (with a hang-guard deadline), both closed at the test's
// end.
func pairOn(t *testing.T, ln *Listener) (net.Conn, net.Conn) {
	t.Helper()
	return pairDial(t, ln, func(addr string) (net.Conn, error) { return net.Dial("tcp", addr) })
}

// pairDial is pairOn with the peer made by dial (a crypto/tls client, say).
func pairDial(t *testing.T, ln *Listener, dial func(addr string) (net.Conn, error)) (net.Conn, net.Conn) {
	t.Helper()
	peer, err := dial(ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { peer.Close() })
	peer.SetDeadline(time.Now().Add(hangGuard))
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, peer
}

// acceptedPair is pairOn over a one-worker Listener of its own on backend b.
func acceptedPair(t *testing.T, b rio.Backend) (net.Conn, net.Conn) {
	t.Helper()
	return pairOn(t, listen(t, rio.Config{Backend: b, Workers: 1}))
}

// echoAll echoes every connection ln accepts with io.Copy on a goroutine
// of its own, until ln is closed.
func echoAll(ln net.Listener) {
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
}
