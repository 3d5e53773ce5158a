//go:build linux

package rionet

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/ringline-go/ringline/rio"
)

// hangGuard bounds the waits of these tests: far beyond what the work
// needs, it only turns a hang into a failure.
const hangGuard = 30 * time.Second

// waitDone fails the test unless the listener's workers end within the
// hang guard.
func waitDone(t *testing.T, ln *Listener) {
	t.Helper()
	select {
	case <-ln.Server().Done():
	case <-time.After(hangGuard):
		t.Fatal("the workers did not end after the listener and its last Conn closed")
	}
}

// Closing a Listener stops accepting only, as closing a net.TCPListener
// does: a later Accept fails with net.ErrClosed, a connection opened but
// never Accepted is reset, and the Conn accepted before goes on carrying
// data both ways; the workers end once it is closed.
func TestListenerCloseKeepsConns(t *testing.T) {
	for _, b := range backends() {
		t.Run(string(b), func(t *testing.T) {
			ln := listen(t, rio.Config{Backend: b, Workers: 1})
			dial := func() net.Conn {
				c, err := net.Dial("tcp", ln.Addr().String())
				if err != nil {
					t.Fatal(err)
				}
				c.SetDeadline(time.Now().Add(hangGuard))
				return c
			}
			kept := dial()
			defer kept.Close()
			served, err := ln.Accept()
			if err != nil {
				t.Fatal(err)
			}
			defer served.Close()
			queued := dial()
			defer queued.Close()
			for deadline := time.Now().Add(hangGuard); len(ln.queue) == 0; time.Sleep(time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatal("the second connection never reached the accept queue")
				}
			}

			if err := ln.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			if c, err := ln.Accept(); !errors.Is(err, net.ErrClosed) {
				t.Fatalf("Accept after Close: %v, %v; want net.ErrClosed", c, err)
			}
			if n, err := queued.Read(make([]byte, 1)); !errors.Is(err, syscall.ECONNRESET) {
				t.Fatalf("read on the connection no Accept took: %d, %v; want a reset", n, err)
			}
			for _, dir := range []struct {
				from, to net.Conn
				msg      string
			}{{kept, served, "to the server"}, {served, kept, "to the client"}} {
				if _, err := dir.from.Write([]byte(dir.msg)); err != nil {
					t.Fatalf("write %s after the listener closed: %v", dir.msg, err)
				}
				buf := make([]byte, len(dir.msg))
				if _, err := io.ReadFull(dir.to, buf); err != nil || string(buf) != dir.msg {
					t.Fatalf("read %s after the listener closed: %q, %v", dir.msg, buf, err)
				}
			}
			select {
			case <-ln.Server().Done():
				t.Fatal("the workers ended while an accepted Conn was open")
			default:
			}
			served.Close()
			if n, err := kept.Read(make([]byte, 1)); err != io.EOF {
				t.Fatalf("client read after the server's Close: %d, %v; want EOF", n, err)
			}
			kept.Close()
			waitDone(t, ln)
		})
	}
}

// http.Server.Shutdown over the adapter lets a response in flight finish:
// it closes the listener while a slow handler streams a large body, and
// the client still gets every byte; Shutdown returns nil once the
// connection is idle, and the workers end when it has closed (the
// package's TestMain then finds no descriptor or goroutine left).
func TestHTTPShutdownFinishesResponses(t *testing.T) {
	for _, b := range backends() {
		t.Run(string(b), func(t *testing.T) {
			ln := listen(t, rio.Config{Backend: b, Workers: 1})
			const chunk, chunks = 64 << 10, 128 // 8 MiB: past every buffer on the way
			body := pattern(chunk * chunks)
			started, resume := make(chan struct{}), make(chan struct{})
			srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				for i := range chunks {
					if _, err := w.Write(body[i*chunk : (i+1)*chunk]); err != nil {
						return
					}
					w.(http.Flusher).Flush()
					if i == 0 {
						close(started)
						<-resume // until Shutdown has closed the listener
					}
				}
			})}
			served := make(chan error, 1)
			go func() { served <- srv.Serve(ln) }()

			tr := &http.Transport{}
			defer tr.CloseIdleConnections()
			client := &http.Client{Transport: tr, Timeout: hangGuard}
			type result struct {
				body []byte
				err  error
			}
			got := make(chan result, 1)
			go func() {
				resp, err := client.Get(fmt.Sprintf("http://%s/slow", ln.Addr()))
				if err != nil {
					got <- result{err: err}
					return
				}
				defer resp.Body.Close()
				b, err := io.ReadAll(resp.Body)
				got <- result{b, err}
			}()
			<-started
			ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
			defer cancel()
			shut := make(chan error, 1)
			go func() { shut <- srv.Shutdown(ctx) }()
			if err := <-served; !errors.Is(err, http.ErrServerClosed) {
				t.Fatalf("Serve: %v, want http.ErrServerClosed", err)
			}
			close(resume) // the listener is closed: finish the response
			r := <-got
			if r.err != nil || !bytes.Equal(r.body, body) {
				t.Fatalf("response body: %d bytes (want %d): %v", len(r.body), len(body), r.err)
			}
			if err := <-shut; err != nil {
				t.Fatalf("Shutdown: %v", err)
			}
			tr.CloseIdleConnections()
			waitDone(t, ln)
		})
	}
}

// A Close with output still in the outbound buffer, to a peer that never
// reads, ends the connection all the same once Config.CloseLinger has
// passed, as rio's own Close bounds its queued sends: the peer sees a
// reset (it must not take the part it got for a whole stream), and after
// the Listener's Close the workers end. The close used to wait for the
// buffer to drain, and the workers with it, forever.
func TestCloseBufferedToStalledPeer(t *testing.T) {
	for _, b := range backends() {
		t.Run(string(b), func(t *testing.T) {
			ln := listen(t, rio.Config{Backend: b, Workers: 1, CloseLinger: 50 * time.Millisecond})
			c, peer := pairOn(t, ln)
			c.SetWriteDeadline(time.Now().Add(time.Second)) // ends the Writes once every buffer is full
			chunk := make([]byte, 64<<10)                   // buffered: no larger than the outbound buffer
			var err error
			for err == nil {
				_, err = c.Write(chunk)
			}
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("Write to a peer that does not read: %v, want os.ErrDeadlineExceeded", err)
			}
			c.Close()
			ln.Close()
			waitDone(t, ln)
			if _, err := io.Copy(io.Discard, peer); err == nil {
				t.Fatal("the peer read a clean end of a stream cut short")
			}
		})
	}
}
