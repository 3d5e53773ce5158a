//go:build linux

package rio

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// captureConn passes writes through until capture is set; after that it
// keeps them, so a test can send a client's records cut or reordered.
type captureConn struct {
	net.Conn
	mu      sync.Mutex
	capture bool
	got     bytes.Buffer
}

func (c *captureConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.capture {
		return c.got.Write(p)
	}
	return c.Conn.Write(p)
}

// take returns the records kept so far.
func (c *captureConn) take() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	b := bytes.Clone(c.got.Bytes())
	c.got.Reset()
	return b
}

// captureClient completes a crypto/tls handshake with addr and returns the
// raw socket and a client whose later records are kept, not sent.
func captureClient(t *testing.T, addr string, cfg *tls.Config) (*net.TCPConn, *tls.Conn, *captureConn) {
	t.Helper()
	raw, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	raw.SetDeadline(time.Now().Add(60 * time.Second))
	cc := &captureConn{Conn: raw}
	tc := tls.Client(cc, cfg)
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	cc.mu.Lock()
	cc.capture = true
	cc.mu.Unlock()
	return raw.(*net.TCPConn), tc, cc
}

// A FIN inside a record is a truncation: OnClose gets a *TLSError wrapping
// io.ErrUnexpectedEOF, never a clean io.EOF, after the whole records before
// it were delivered.
func TestTLSTruncatedRecord(t *testing.T) {
	cert, pool := testCert(t)
	forEachBackend(t, func(t *testing.T, cfg Config) {
		closed := make(chan error, 1)
		var got []byte
		h := &hooks{
			data:   func(_ Conn, p []byte) int { got = append(got, p...); return len(p) },
			closed: func(_ Conn, err error) { closed <- err },
		}
		srv := serve(t, "tcp", "127.0.0.1:0", tlsServerConfig(cfg, cert), h)
		raw, tc, cc := captureClient(t, srv.Addr().String(), &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
		tc.Write([]byte("complete"))
		tc.Write(bytes.Repeat([]byte("x"), 500))
		rec := cc.take()
		raw.Write(rec[:len(rec)-200]) // the second record cut short
		raw.CloseWrite()
		select {
		case err := <-closed:
			if !errors.Is(err, io.ErrUnexpectedEOF) || !errors.Is(err, ErrTLS) {
				t.Fatalf("OnClose after a record cut short: %v, want a *TLSError wrapping io.ErrUnexpectedEOF", err)
			}
			if string(got) != "complete" {
				t.Errorf("delivered %q, want the whole first record only", got)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("no OnClose")
		}
	})
}

// OnData's windows on a TLS connection are what Send can take once
// encrypted: a handler that sends each window whole, with a budget of one
// record, echoes a client's full-size records.
func TestTLSWindowFitsBudget(t *testing.T) {
	cert, pool := testCert(t)
	forEachBackend(t, func(t *testing.T, cfg Config) {
		cfg.SendBudget = 16 << 10
		closed := make(chan error, 1)
		h := &hooks{data: func(c Conn, p []byte) int {
			if err := c.Send(p); err != nil {
				if !errors.Is(err, ErrSendBudgetExhausted) && !errors.Is(err, ErrSendPoolExhausted) {
					t.Errorf("Send of an OnData window: %v", err)
					c.Abort()
				}
				return 0
			}
			return len(p)
		}, closed: func(_ Conn, err error) { closed <- err }}
		srv := serve(t, "tcp", "127.0.0.1:0", tlsServerConfig(cfg, cert), h)
		c := dialTLS(t, srv.Addr().String(), &tls.Config{RootCAs: pool, DynamicRecordSizingDisabled: true})
		defer c.Close()
		msg := randomBytes(256<<10, 7)
		go c.Write(msg)
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, msg) {
			select {
			case cause := <-closed:
				t.Fatalf("echo of 256 KiB in full records: %v; the server closed with %v", err, cause)
			default:
				t.Fatalf("echo of 256 KiB in full records: %v", err)
			}
		}
	})
}

// A connection paused by a refused send, resumed with a record and half an
// alert waiting behind it, and aborted by OnData as it resumes: only that
// connection closes, with ErrAborted (this used to crash the worker).
func TestTLSAbortAfterResume(t *testing.T) {
	cert, pool := testCert(t)
	forEachBackend(t, func(t *testing.T, cfg Config) {
		closed := make(chan error, 1)
		refused := false
		h := &hooks{
			data: func(c Conn, p []byte) int {
				switch {
				case p[0] == 'A' && !refused:
					c.Send(make([]byte, 1000))
					if err := c.Send(make([]byte, tlsFits(c.w.budget))); err == nil {
						t.Error("a send past the budget was taken")
					}
					refused = true
					return 0
				case p[0] == 'B':
					c.Abort()
					return 0
				}
				return len(p)
			},
			closed: func(_ Conn, err error) { closed <- err },
		}
		srv := serve(t, "tcp", "127.0.0.1:0", tlsServerConfig(cfg, cert), h)
		raw, tc, cc := captureClient(t, srv.Addr().String(), &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MaxVersion: tls.VersionTLS12})
		tc.Write([]byte("A"))
		tc.Write([]byte("B"))
		tc.CloseWrite()                                   // close_notify: an alert record
		raw.SetDeadline(time.Now().Add(60 * time.Second)) // CloseWrite left the write deadline at now
		rec := cc.take()
		if _, err := raw.Write(rec[:len(rec)-10]); err != nil {
			t.Fatal(err)
		}
		go io.Copy(io.Discard, raw)
		wantClose(t, closed, ErrAborted)
	})
}

// A handshake that stalls past Config.TLSHandshakeTimeout closes with a
// handshake *TLSError wrapping context.DeadlineExceeded.
func TestTLSHandshakeTimeout(t *testing.T) {
	cert, _ := testCert(t)
	forEachBackend(t, func(t *testing.T, cfg Config) {
		cfg = tlsServerConfig(cfg, cert)
		cfg.TLSHandshakeTimeout = 100 * time.Millisecond
		closed := make(chan error, 1)
		srv := serve(t, "tcp", "127.0.0.1:0", cfg, &hooks{closed: func(_ Conn, err error) { closed <- err }})
		stall := dialTCP(t, srv)
		defer stall.Close()
		stall.Write([]byte{0x16, 0x03, 0x01, 0x02, 0x00, 0x01}) // half a ClientHello
		select {
		case err := <-closed:
			var te *TLSError
			if !errors.As(err, &te) || !te.Handshake || !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("OnClose of a stalled handshake: %v, want a handshake *TLSError wrapping context.DeadlineExceeded", err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("the stalled handshake never timed out")
		}
	})
}

// countConn counts the bytes written through it.
type countConn struct {
	net.Conn
	mu sync.Mutex
	n  int
}

func (c *countConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.n += len(p)
	c.mu.Unlock()
	return c.Conn.Write(p)
}

// tlsSealed bounds what crypto/tls writes for n bytes of plaintext, for
// every protocol version and kind of cipher suite it offers, with dynamic
// record sizing (its default) from the first record.
func TestTLSSealedBound(t *testing.T) {
	cert, pool := testCert(t)
	cases := []struct {
		name     string
		min, max uint16
		suite    uint16
	}{
		{"tls13", tls.VersionTLS13, tls.VersionTLS13, 0},
		{"tls12-gcm", tls.VersionTLS12, tls.VersionTLS12, tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256},
		{"tls12-chacha", tls.VersionTLS12, tls.VersionTLS12, tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305},
		{"tls12-cbc-sha256", tls.VersionTLS12, tls.VersionTLS12, tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256},
		{"tls12-cbc-sha", tls.VersionTLS12, tls.VersionTLS12, tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA},
		{"tls10-cbc", tls.VersionTLS10, tls.VersionTLS10, tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA},
	}
	for _, k := range cases {
		t.Run(k.name, func(t *testing.T) {
			a, b := net.Pipe()
			defer a.Close()
			cc := &countConn{Conn: a}
			var suites []uint16
			if k.suite != 0 {
				suites = []uint16{k.suite}
			}
			cl := tls.Client(cc, &tls.Config{RootCAs: pool, ServerName: "localhost", MinVersion: k.min, MaxVersion: k.max, CipherSuites: suites})
			sv := tls.Server(b, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: k.min, MaxVersion: k.max, CipherSuites: suites})
			go io.Copy(io.Discard, sv)
			if err := cl.Handshake(); err != nil {
				t.Skipf("crypto/tls will not negotiate it here: %v", err)
			}
			for _, n := range []int{1, 2, 100, 1023, 1024, 1025, 1186, 1187, 2000, 5000, 16384, 16385, 100_000, 1 << 20} {
				cc.mu.Lock()
				cc.n = 0
				cc.mu.Unlock()
				cl.Write(make([]byte, n))
				cc.mu.Lock()
				got := cc.n
				cc.mu.Unlock()
				if got > tlsSealed(n) {
					t.Errorf("Write(%d) wrote %d bytes, more than tlsSealed's %d", n, got, tlsSealed(n))
				}
			}
		})
	}
}

// peerEOFHooks is hooks with OnPeerEOF.
type peerEOFHooks struct {
	hooks
	peerEOF func(c Conn)
}

func (h *peerEOFHooks) OnPeerEOF(c Conn) { h.peerEOF(c) }

// tlsOverRaw dials srv and wraps the socket in a crypto/tls client that
// trusts pool, returning both, so a test can act below TLS (a FIN, raw
// bytes); the socket is closed at the test's end.
func tlsOverRaw(t *testing.T, srv *Server, pool *x509.CertPool) (net.Conn, *tls.Conn) {
	t.Helper()
	raw, err := net.Dial("tcp", srv.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	return raw, tls.Client(raw, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
}

// A TLS client's close_notify, then its FIN, reach a PeerEOFHandler once:
// the server replies after it and closes, and the client reads the reply
// and a clean end.
func TestTLSPeerEOFHandler(t *testing.T) {
	cert, pool := testCert(t)
	forEachBackend(t, func(t *testing.T, cfg Config) {
		var eofs atomic.Int32
		closed := make(chan error, 1)
		h := &peerEOFHooks{
			hooks: hooks{closed: func(_ Conn, err error) { closed <- err }},
			peerEOF: func(c Conn) {
				eofs.Add(1)
				c.Send([]byte("reply after your close_notify"))
				// Closed a little later, so the FIN behind the close_notify
				// finds the connection still open.
				c.Worker().AfterFunc(200*time.Millisecond, func() { c.Close() })
			},
		}
		srv := serve(t, "tcp", "127.0.0.1:0", tlsServerConfig(cfg, cert), h)
		raw, c := tlsOverRaw(t, srv, pool)
		c.Write([]byte("request"))
		c.CloseWrite()                                    // close_notify
		raw.SetDeadline(time.Now().Add(60 * time.Second)) // CloseWrite left the write deadline at now
		raw.(*net.TCPConn).CloseWrite()                   // and the FIN
		got, err := io.ReadAll(c)
		if err != nil || string(got) != "reply after your close_notify" {
			t.Fatalf("client read %q, %v", got, err)
		}
		wantClose(t, closed, ErrLocalClose)
		if n := eofs.Load(); n != 1 {
			t.Errorf("OnPeerEOF ran %d times, want 1", n)
		}
	})
}

// Bytes that follow a client's close_notify, to a PeerEOFHandler that
// keeps the connection open, are dropped and the receive ends, as after a
// FIN: none piles up in the TLS pipe, however much the peer sends.
func TestTLSInputAfterCloseNotifyDropped(t *testing.T) {
	cert, pool := testCert(t)
	forEachBackend(t, func(t *testing.T, cfg Config) {
		ended := make(chan Conn, 1)
		h := &peerEOFHooks{peerEOF: func(c Conn) { ended <- c }}
		srv := serve(t, "tcp", "127.0.0.1:0", tlsServerConfig(cfg, cert), h)
		raw, c := tlsOverRaw(t, srv, pool)
		if err := c.Handshake(); err != nil {
			t.Fatal(err)
		}
		c.CloseWrite() // close_notify, and no FIN
		var conn Conn
		select {
		case conn = <-ended:
		case <-time.After(30 * time.Second):
			t.Fatal("OnPeerEOF never ran")
		}
		raw.SetWriteDeadline(time.Now().Add(2 * time.Second))
		raw.Write(make([]byte, 8<<20)) // as much as the kernel takes before the deadline
		kept := make(chan int, 1)
		if err := srv.Run(0, func(*Worker) {
			s, err := conn.slot()
			if err != nil {
				kept <- -1
				return
			}
			kept <- len(s.tls.pipe.in) - s.tls.pipe.head
		}); err != nil {
			t.Fatal(err)
		}
		if n := <-kept; n != 0 {
			t.Errorf("%d bytes after close_notify wait in the TLS pipe, want none (and the connection open)", n)
		}
	})
}
