//go:build linux

package rionet

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/ringline-go/ringline/rio"
)

// halfCloser is a net.Conn that can shut its writing side.
type halfCloser interface {
	net.Conn
	CloseWrite() error
}

// halfClosePeers runs f on each backend with a listener and a way to dial
// it: from the kernel's net.Dial, or from an adapter Dialer.
func halfClosePeers(t *testing.T, f func(t *testing.T, ln *Listener, dial func() halfCloser)) {
	for _, b := range backends() {
		for _, peer := range []string{"kernel", "adapter"} {
			t.Run(fmt.Sprintf("%s/%s-peer", b, peer), func(t *testing.T) {
				cfg := rio.Config{Backend: b, Workers: 1}
				ln := listen(t, cfg)
				dial := func() halfCloser {
					c, err := net.Dial("tcp", ln.Addr().String())
					if err != nil {
						t.Fatal(err)
					}
					return c.(*net.TCPConn)
				}
				if peer == "adapter" {
					d, err := NewDialer(context.Background(), cfg)
					if err != nil {
						t.Fatal(err)
					}
					defer d.Close()
					dial = func() halfCloser {
						c, err := d.DialContext(context.Background(), "tcp", ln.Addr().String())
						if err != nil {
							t.Fatal(err)
						}
						return c.(*Conn)
					}
				}
				f(t, ln, dial)
			})
		}
	}
}

// exchange is what one side of a half-close test saw.
type exchange struct {
	read []byte
	err  error
}

// The peer sends a request and shuts its writing side; the adapter's Conn
// reads the request to io.EOF and only then writes its reply (larger than
// the inbound and send buffers) and closes. The peer reads the whole reply
// and then EOF: the peer's FIN does not end the adapter Conn's writing.
func TestPeerCloseWriteThenReply(t *testing.T) {
	halfClosePeers(t, func(t *testing.T, ln *Listener, dial func() halfCloser) {
		request, reply := pattern(300<<10), slices.Repeat([]byte("reply after EOF;"), 256<<10)
		served := make(chan exchange, 1)
		go func() {
			c, err := ln.Accept()
			if err != nil {
				served <- exchange{err: err}
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(60 * time.Second)) // a hang guard
			got, err := io.ReadAll(c)
			if err == nil {
				_, err = c.Write(reply)
			}
			served <- exchange{got, err}
		}()
		peer := dial()
		defer peer.Close()
		peer.SetDeadline(time.Now().Add(60 * time.Second))
		if _, err := peer.Write(request); err != nil {
			t.Fatal(err)
		}
		if err := peer.CloseWrite(); err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(peer)
		s := <-served
		if s.err != nil || !bytes.Equal(s.read, request) {
			t.Fatalf("adapter read %d bytes of the request (want %d) then wrote its reply: %v", len(s.read), len(request), s.err)
		}
		if err != nil || !bytes.Equal(got, reply) {
			t.Fatalf("peer read %d bytes of the reply (want %d, then EOF): %v", len(got), len(reply), err)
		}
	})
}

// The reverse: the adapter's Conn sends a request and shuts its writing
// side; the peer reads it to EOF, writes its reply and closes; the adapter
// reads the whole reply and then EOF.
func TestAdapterCloseWriteThenReply(t *testing.T) {
	halfClosePeers(t, func(t *testing.T, ln *Listener, dial func() halfCloser) {
		request, reply := pattern(300<<10), slices.Repeat([]byte("the peer's reply"), 256<<10)
		served := make(chan exchange, 1)
		go func() {
			nc, err := ln.Accept()
			if err != nil {
				served <- exchange{err: err}
				return
			}
			c := nc.(*Conn)
			defer c.Close()
			c.SetDeadline(time.Now().Add(60 * time.Second)) // a hang guard
			if _, err := c.Write(request); err != nil {
				served <- exchange{err: err}
				return
			}
			if err := c.CloseWrite(); err != nil {
				served <- exchange{err: err}
				return
			}
			got, err := io.ReadAll(c)
			served <- exchange{got, err}
		}()
		peer := dial()
		defer peer.Close()
		peer.SetDeadline(time.Now().Add(60 * time.Second))
		got, err := io.ReadAll(peer)
		if err != nil || !bytes.Equal(got, request) {
			t.Fatalf("peer read %d bytes of the request (want %d, then EOF): %v", len(got), len(request), err)
		}
		if _, err := peer.Write(reply); err != nil {
			t.Fatalf("peer's reply after the adapter's FIN: %v", err)
		}
		peer.Close()
		s := <-served
		if s.err != nil || !bytes.Equal(s.read, reply) {
			t.Fatalf("adapter read %d bytes of the reply (want %d, then EOF): %v", len(s.read), len(reply), s.err)
		}
	})
}
