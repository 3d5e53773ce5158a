//go:build linux

package rio

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ringline-go/ringline/internal/selfsigned"
)

// testCert returns a self-signed certificate for 127.0.0.1, ::1 and
// localhost, and a pool that trusts it.
func testCert(t testing.TB) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	cert, pool, err := selfsigned.New("rio test", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return cert, pool
}

// tlsServerConfig is a rio Config serving TLS with cert on the backend of
// base, one worker.
func tlsServerConfig(base Config, cert tls.Certificate) Config {
	base.Workers = 1
	base.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	return base
}

// dialTLS connects a crypto/tls client to srv, with a hang-guard deadline.
func dialTLS(t *testing.T, addr string, cfg *tls.Config) *tls.Conn {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 30 * time.Second}, "tcp", addr, cfg)
	if err != nil {
		t.Fatalf("tls dial %s: %v", addr, err)
	}
	c.SetDeadline(time.Now().Add(60 * time.Second))
	return c
}

// OnData sees plaintext and Send encrypts: messages from one byte to 1 MiB
// come back whole over IPv4 and IPv6, with every byte checked.
func TestTLSEcho(t *testing.T) {
	cert, pool := testCert(t)
	forEachBackend(t, func(t *testing.T, cfg Config) {
		for _, addr := range []string{"127.0.0.1:0", "[::1]:0"} {
			srv := serve(t, "tcp", addr, tlsServerConfig(cfg, cert), echoHandler{})
			c := dialTLS(t, srv.Addr().String(), &tls.Config{RootCAs: pool})
			for i, n := range []int{1, 1000, 16 << 10, 100_000, 1 << 20} {
				msg := randomBytes(n, uint64(i))
				wrote := make(chan error, 1)
				go func() { _, err := c.Write(msg); wrote <- err }()
				got := make([]byte, n)
				if _, err := io.ReadFull(c, got); err != nil {
					t.Fatalf("%s: read %d bytes: %v", addr, n, err)
				}
				if err := <-wrote; err != nil {
					t.Fatalf("%s: write: %v", addr, err)
				}
				if !bytes.Equal(got, msg) {
					t.Fatalf("%s: %d bytes came back changed", addr, n)
				}
			}
			c.Close()
			if st := srv.Stats().Total(); st.TLSHandshakes == 0 {
				t.Errorf("%s: Stats.TLSHandshakes = 0 after a handshake", addr)
			}
		}
	})
}

// A failed handshake closes only its own connection, with a *TLSError,
// through OnClose without OnOpen, while a handshake that stalls halfway
// holds no worker: another client on the same worker is served meanwhile.
func TestTLSHandshakeFailures(t *testing.T) {
	cert, pool := testCert(t)
	forEachBackend(t, func(t *testing.T, cfg Config) {
		var opened atomic.Int32
		closed := make(chan error, 8)
		h := &hooks{
			open: func(Conn) { opened.Add(1) },
			data: func(c Conn, p []byte) int { n, _ := c.SendSome(p); return n },
			closed: func(_ Conn, err error) {
				closed <- err
			},
		}
		srv := serve(t, "tcp", "127.0.0.1:0", tlsServerConfig(cfg, cert), h)
		addr := srv.Addr().String()

		// A client that sends half a ClientHello and stops.
		stall, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer stall.Close()
		stall.Write([]byte{0x16, 0x03, 0x01, 0x02, 0x00, 0x01})

		// One that does not trust the certificate.
		if c, err := tls.Dial("tcp", addr, &tls.Config{ServerName: "localhost"}); err == nil {
			c.Close()
			t.Fatal("a client without the root accepted the certificate")
		} else if !errors.As(err, new(*tls.CertificateVerificationError)) {
			t.Fatalf("untrusting client: %v, want a certificate verification error", err)
		}
		var te *TLSError
		select {
		case err := <-closed:
			if !errors.As(err, &te) || !te.Handshake || !errors.Is(err, ErrTLS) {
				t.Fatalf("OnClose after a refused certificate: %v, want a handshake *TLSError", err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("no OnClose for the refused handshake")
		}

		// One that speaks plain HTTP.
		plain := dialTCP(t, srv)
		plain.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
		if _, err := io.ReadAll(plain); err != nil && !errors.Is(err, net.ErrClosed) {
			t.Logf("plain client read: %v", err) // a reset is fine too
		}
		plain.Close()
		select {
		case err := <-closed:
			if !errors.As(err, &te) || !te.Handshake {
				t.Fatalf("OnClose after plain HTTP: %v, want a handshake *TLSError", err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("no OnClose for the plain-text client")
		}

		// The stalled handshake has not stopped the worker.
		c := dialTLS(t, addr, &tls.Config{RootCAs: pool})
		c.Write([]byte("still served"))
		got := make([]byte, len("still served"))
		if _, err := io.ReadFull(c, got); err != nil || string(got) != "still served" {
			t.Fatalf("client behind a stalled handshake: %q, %v", got, err)
		}
		c.Close()
		if n := opened.Load(); n != 1 {
			t.Errorf("OnOpen ran %d times, want 1 (failed handshakes never open)", n)
		}
		if st := srv.Stats().Total(); st.TLSFailures < 2 {
			t.Errorf("Stats.TLSFailures = %d, want at least 2", st.TLSFailures)
		}
	})
}

// recordConn is a net.Conn that keeps a copy of everything read from it.
type recordConn struct {
	net.Conn
	mu  sync.Mutex
	got []byte
}

func (r *recordConn) Read(p []byte) (int, error) {
	n, err := r.Conn.Read(p)
	r.mu.Lock()
	r.got = append(r.got, p[:n]...)
	r.mu.Unlock()
	return n, err
}

// recordTypes splits a TLS byte stream into its records' content types.
func recordTypes(stream []byte) []byte {
	var types []byte
	for len(stream) >= 5 {
		n := int(stream[3])<<8 | int(stream[4])
		types = append(types, stream[0])
		stream = stream[min(len(stream), 5+n):]
	}
	return types
}

// A graceful close sends close_notify before the FIN: with TLS 1.2, whose
// alerts travel as records of their own type, the last record the client
// gets is an alert and its Read reports a clean io.EOF. The client's own
// close_notify ends the server's side with io.EOF.
func TestTLSCloseNotify(t *testing.T) {
	cert, pool := testCert(t)
	forEachBackend(t, func(t *testing.T, cfg Config) {
		closed := make(chan error, 2)
		h := &hooks{
			data: func(c Conn, p []byte) int {
				if string(p) == "bye" {
					c.Send([]byte("ok"))
					c.Close()
				}
				return len(p)
			},
			closed: func(_ Conn, err error) { closed <- err },
		}
		srv := serve(t, "tcp", "127.0.0.1:0", tlsServerConfig(cfg, cert), h)
		raw, err := net.Dial("tcp", srv.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		rec := &recordConn{Conn: raw}
		c := tls.Client(rec, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MaxVersion: tls.VersionTLS12})
		c.SetDeadline(time.Now().Add(60 * time.Second))
		c.Write([]byte("bye"))
		got, err := io.ReadAll(c)
		if err != nil || string(got) != "ok" {
			t.Fatalf("client read %q, %v; want \"ok\" and a clean EOF", got, err)
		}
		c.Close()
		rec.mu.Lock()
		types := recordTypes(rec.got)
		rec.mu.Unlock()
		if len(types) == 0 || types[len(types)-1] != 21 {
			t.Fatalf("record types the client got: %v; want an alert (21) last", types)
		}
		wantClose(t, closed, ErrLocalClose)

		// The client closes first: its close_notify is the server's EOF.
		c2 := dialTLS(t, srv.Addr().String(), &tls.Config{RootCAs: pool})
		c2.Write([]byte("x"))
		c2.Close()
		wantClose(t, closed, io.EOF)
	})
}

// A thousand TLS clients at once on one worker: every handshake runs off
// the worker, every echo comes back whole, and every connection is open at
// the same time before any closes.
func TestTLSThousandConns(t *testing.T) {
	const conns = 1000
	cert, pool := testCert(t)
	forEachBackend(t, func(t *testing.T, cfg Config) {
		srv := serve(t, "tcp", "127.0.0.1:0", tlsServerConfig(cfg, cert), echoHandler{})
		addr := srv.Addr().String()
		ccfg := &tls.Config{RootCAs: pool}
		var wg sync.WaitGroup
		var failed atomic.Int32
		allIn := make(chan struct{})
		var in atomic.Int32
		for i := range conns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c, err := tls.DialWithDialer(&net.Dialer{Timeout: 60 * time.Second}, "tcp", addr, ccfg)
				if err != nil {
					t.Errorf("conn %d: %v", i, err)
					failed.Add(1)
					if in.Add(1) == conns {
						close(allIn)
					}
					return
				}
				defer c.Close()
				c.SetDeadline(time.Now().Add(120 * time.Second))
				msg := randomBytes(100+i, uint64(i))
				c.Write(msg)
				got := make([]byte, len(msg))
				if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, msg) {
					t.Errorf("conn %d: echo %v", i, err)
					failed.Add(1)
				}
				if in.Add(1) == conns {
					close(allIn)
				}
				<-allIn
			}()
		}
		wg.Wait()
		if failed.Load() > 0 {
			t.Fatalf("%d of %d connections failed", failed.Load(), conns)
		}
		if st := srv.Stats().Total(); st.TLSHandshakes != conns {
			t.Errorf("Stats.TLSHandshakes = %d, want %d", st.TLSHandshakes, conns)
		}
	})
}

// Worker.DialTLS: a rio client talks to a crypto/tls server in plaintext
// through its handler; a server name the certificate does not hold fails
// the handshake with a *TLSError, through OnClose without OnOpen.
func TestDialTLS(t *testing.T) {
	cert, pool := testCert(t)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	defer serveNetEcho(ln)()
	forEachBackend(t, func(t *testing.T, cfg Config) {
		cfg.Workers = 1
		got := make(chan string, 1)
		closed := make(chan error, 2)
		var buf []byte
		h := &hooks{
			open: func(c Conn) {
				if err := c.Send([]byte("hello over tls")); err != nil {
					t.Errorf("Send at OnOpen: %v", err)
				}
			},
			data: func(c Conn, p []byte) int {
				buf = append(buf, p...)
				if len(buf) == len("hello over tls") {
					got <- string(buf)
					c.Close()
				}
				return len(p)
			},
			closed: func(_ Conn, err error) { closed <- err },
		}
		cl := startClient(t, cfg, h)
		onWorker(t, cl, 0, func(w *Worker) {
			c, err := w.DialTLS("tcp", ln.Addr().String(), 30*time.Second, &tls.Config{RootCAs: pool})
			if err != nil {
				t.Errorf("DialTLS: %v", err)
				return
			}
			if err := c.Send([]byte("early")); err == nil {
				t.Error("Send before the handshake was taken")
			}
		})
		select {
		case s := <-got:
			if s != "hello over tls" {
				t.Fatalf("echo %q", s)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("no echo over DialTLS")
		}
		wantClose(t, closed, ErrLocalClose)

		onWorker(t, cl, 0, func(w *Worker) {
			if _, err := w.DialTLS("tcp", ln.Addr().String(), 30*time.Second, &tls.Config{RootCAs: pool, ServerName: "elsewhere.example"}); err != nil {
				t.Errorf("DialTLS: %v", err)
			}
		})
		select {
		case err := <-closed:
			var te *TLSError
			if !errors.As(err, &te) || !te.Handshake || !errors.As(err, new(*tls.CertificateVerificationError)) {
				t.Fatalf("OnClose for a wrong server name: %v, want a handshake *TLSError with the verification error", err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("no OnClose for the refused server name")
		}
	})
}
