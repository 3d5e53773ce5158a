//go:build linux

package rionet

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ringline-go/ringline/rio"
)

// ReadFrom and WriteTo (which io.Copy takes): 8 MiB out of a reader and
// out of a real file (reads of 512 KiB, lent to the worker), and 8 MiB in
// (the inbound buffer handed to the writer), every byte checked, on each
// backend.
func TestCopyReadFromWriteTo(t *testing.T) {
	want := make([]byte, 8<<20)
	r := rand.New(rand.NewPCG(5, 6))
	for i := range want {
		want[i] = byte(r.Uint32())
	}
	path := filepath.Join(t.TempDir(), "body")
	if err := os.WriteFile(path, want, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, b := range backends() {
		t.Run(string(b), func(t *testing.T) {
			ln := listen(t, rio.Config{Backend: b, Workers: 1})
			sources := map[string]func() io.Reader{
				"reader": func() io.Reader { return struct{ io.Reader }{bytes.NewReader(want)} },
				"file": func() io.Reader {
					f, err := os.Open(path)
					if err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { f.Close() })
					return f
				},
			}
			for name, src := range sources {
				c, peer := pairOn(t, ln)
				go func() {
					if n, err := c.(*Conn).ReadFrom(src()); n != int64(len(want)) || err != nil {
						t.Errorf("ReadFrom a %s: %d, %v", name, n, err)
					}
					c.Close()
				}()
				got, err := io.ReadAll(peer)
				peer.Close()
				if err != nil || !bytes.Equal(got, want) {
					t.Fatalf("copied from a %s: the peer read %d bytes (%v), want the %d written", name, len(got), err, len(want))
				}
			}

			c, peer := pairOn(t, ln)
			go func() {
				peer.Write(want)
				peer.(*net.TCPConn).CloseWrite()
			}()
			var got bytes.Buffer
			if n, err := c.(*Conn).WriteTo(&got); n != int64(len(want)) || err != nil || !bytes.Equal(got.Bytes(), want) {
				t.Fatalf("WriteTo: %d, %v, same bytes %v", n, err, bytes.Equal(got.Bytes(), want))
			}
			peer.Close()
		})
	}
}

// slowWriter takes a while over each Write, as a proxy's slow destination.
type slowWriter struct{}

func (slowWriter) Write(p []byte) (int, error) {
	time.Sleep(5 * time.Millisecond)
	return len(p), nil
}

// WriteTo honours the read deadline while input keeps arriving faster than
// its writer takes it, as a loop of Reads would.
func TestWriteToReadDeadline(t *testing.T) {
	for _, b := range backends() {
		t.Run(string(b), func(t *testing.T) {
			c, peer := acceptedPair(t, b)
			stop := make(chan struct{})
			defer close(stop)
			go func() {
				chunk := make([]byte, 4<<10)
				for {
					select {
					case <-stop:
						return
					case <-time.After(time.Millisecond):
					}
					if _, err := peer.Write(chunk); err != nil {
						return
					}
				}
			}()
			c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
			done := make(chan error, 1)
			go func() { _, err := c.(*Conn).WriteTo(slowWriter{}); done <- err }()
			select {
			case err := <-done:
				if !errors.Is(err, os.ErrDeadlineExceeded) {
					t.Fatalf("WriteTo past its read deadline: %v, want os.ErrDeadlineExceeded", err)
				}
			case <-time.After(hangGuard):
				t.Fatal("WriteTo ran on past its read deadline")
			}
		})
	}
}
