//go:build linux

package rionet

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/ringline-go/ringline/internal/selfsigned"
	"github.com/ringline-go/ringline/rio"
)

// selfSigned makes a certificate for 127.0.0.1, ::1 and localhost, and a
// pool trusting it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	cert, pool, err := selfsigned.New("rionet test", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return cert, pool
}

// bytesHandler answers GET /bytes?n=N with N bytes of a pattern, and
// echoes a POST body.
func bytesHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/bytes", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		w.Write(pattern(n))
	})
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) { io.Copy(w, r.Body) })
	return mux
}

func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

// TestHTTP runs net/http unchanged over the adapter on each backend: a
// server on a Listener and a client whose Transport dials with a Dialer,
// plain and over TLS (HTTP/2 there), keep-alive connections reused, a
// 4 MiB body each way, every byte checked.
func TestHTTP(t *testing.T) {
	cert, pool := selfSigned(t)
	for _, b := range backends() {
		for _, secure := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/tls=%v", b, secure), func(t *testing.T) {
				cfg := rio.Config{Backend: b, Workers: 1}
				ln, err := Listen(context.Background(), "tcp", "127.0.0.1:0", cfg)
				if err != nil {
					t.Fatal(err)
				}
				srv := &http.Server{Handler: bytesHandler(), TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}}}
				served := make(chan error, 1)
				go func() {
					if secure {
						served <- srv.ServeTLS(ln, "", "")
					} else {
						served <- srv.Serve(ln)
					}
				}()
				d, err := NewDialer(context.Background(), cfg)
				if err != nil {
					t.Fatal(err)
				}
				defer d.Close()
				tr := &http.Transport{DialContext: d.DialContext, ForceAttemptHTTP2: true, TLSClientConfig: &tls.Config{RootCAs: pool}}
				defer tr.CloseIdleConnections()
				client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
				scheme := "http"
				if secure {
					scheme = "https"
				}
				base := scheme + "://" + ln.Addr().String()
				for i, n := range []int{0, 13, 4 << 20, 100} {
					resp, err := client.Get(fmt.Sprintf("%s/bytes?n=%d", base, n))
					if err != nil {
						t.Fatal(err)
					}
					body, err := io.ReadAll(resp.Body)
					resp.Body.Close()
					if err != nil || !bytes.Equal(body, pattern(n)) {
						t.Fatalf("GET %d bytes (request %d): %d bytes, %v", n, i, len(body), err)
					}
					if wantProto := map[bool]string{false: "HTTP/1.1", true: "HTTP/2.0"}[secure]; resp.Proto != wantProto {
						t.Fatalf("protocol %s, want %s", resp.Proto, wantProto)
					}
				}
				big := pattern(4 << 20)
				resp, err := client.Post(base+"/echo", "application/octet-stream", bytes.NewReader(big))
				if err != nil {
					t.Fatal(err)
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || !bytes.Equal(body, big) {
					t.Fatalf("POST 4 MiB echo: %d bytes back, %v", len(body), err)
				}
				if st := ln.Server().Stats().Total(); st.Accepted != 1 {
					t.Errorf("%d connections accepted for 5 requests, want 1 (keep-alive)", st.Accepted)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				tr.CloseIdleConnections()
				if err := srv.Shutdown(ctx); err != nil {
					t.Fatal(err)
				}
				if err := <-served; !errors.Is(err, http.ErrServerClosed) {
					t.Fatalf("Serve: %v", err)
				}
			})
		}
	}
}

// A TLS client that does not trust the server's certificate fails its
// handshake with a certificate error, and the server goes on serving.
func TestTLSCertificateError(t *testing.T) {
	cert, pool := selfSigned(t)
	for _, b := range backends() {
		t.Run(string(b), func(t *testing.T) {
			cfg := rio.Config{Backend: b, Workers: 1}
			ln, err := Listen(context.Background(), "tcp", "127.0.0.1:0", cfg)
			if err != nil {
				t.Fatal(err)
			}
			tln := tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}})
			defer tln.Close()
			echoAll(tln)
			d, err := NewDialer(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			for _, roots := range []*x509.CertPool{x509.NewCertPool(), pool} {
				raw, err := d.DialContext(context.Background(), "tcp", ln.Addr().String())
				if err != nil {
					t.Fatal(err)
				}
				c := tls.Client(raw, &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"})
				c.SetDeadline(time.Now().Add(10 * time.Second))
				err = c.Handshake()
				var unknown x509.UnknownAuthorityError
				switch {
				case roots != pool && !errors.As(err, &unknown):
					t.Fatalf("handshake with an untrusted certificate: %v, want x509.UnknownAuthorityError", err)
				case roots == pool && err != nil:
					t.Fatalf("handshake after a failed one: %v", err)
				case roots == pool:
					if _, err := c.Write([]byte("ping")); err != nil {
						t.Fatal(err)
					}
					buf := make([]byte, 4)
					if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "ping" {
						t.Fatalf("echo over TLS: %q, %v", buf, err)
					}
				}
				c.Close()
			}
		})
	}
}
