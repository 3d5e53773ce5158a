//go:build linux

package rionet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"testing"
	"time"

	"github.com/ringline-go/ringline/rio"
)

// Many Writes on one worker whose send pool holds 4 KiB: most of the time
// it is full of other Conns' bytes while the writer has none queued, so
// its Write waits for a send or a close elsewhere on the worker to make
// room (no completion of its own is coming). Every Write completes, and
// every byte reaches its reader in order, whichever way the Writes go:
// 512 KiB at once copied into the pool (a write deadline is set), in
// 16 KiB pieces through the outbound buffer, or 512 KiB lent (no
// deadline), which takes no pool slot at all.
func TestWritesShareTinySendPool(t *testing.T) {
	for _, mode := range []string{"copied", "buffered", "lent"} {
		for _, b := range backends() {
			t.Run(mode+"/"+string(b), func(t *testing.T) { tinyPoolWrites(t, b, mode) })
		}
	}
}

func tinyPoolWrites(t *testing.T, b rio.Backend, mode string) {
	cfg := rio.Config{Backend: b, Workers: 1, SendSlots: 4, SendSlotSize: 1024}
	ln, err := Listen(context.Background(), "tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	const writers, size = 16, 512 << 10
	payload := func(i int) []byte {
		r := rand.New(rand.NewPCG(uint64(i), 42))
		p := make([]byte, size)
		for j := range p {
			p[j] = byte(r.Uint32())
		}
		return p
	}
	readers := make([]net.Conn, writers)
	for i := range readers {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(hangGuard))
		readers[i] = c
	}
	wrote := make(chan error, writers)
	for range writers {
		c, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if mode == "copied" {
			c.SetWriteDeadline(time.Now().Add(hangGuard))
		}
		go func() {
			// The reader's local port names the payload it expects.
			p := payload(c.RemoteAddr().(*net.TCPAddr).Port)
			var err error
			if mode == "buffered" {
				for off := 0; off < len(p) && err == nil; off += 16 << 10 {
					_, err = c.Write(p[off : off+16<<10])
				}
			} else {
				_, err = c.Write(p)
			}
			if err == nil {
				err = c.Close()
			}
			wrote <- err
		}()
	}
	read := make(chan error, writers)
	for _, c := range readers {
		go func() {
			got, err := io.ReadAll(c)
			want := payload(c.LocalAddr().(*net.TCPAddr).Port)
			if err == nil && string(got) != string(want) {
				err = fmt.Errorf("read %d bytes (want %d) that differ from what was written", len(got), len(want))
			}
			read <- err
		}()
	}
	for range writers {
		if err := <-wrote; err != nil {
			t.Errorf("Write: %v", err)
		}
		if err := <-read; err != nil {
			t.Errorf("reader: %v", err)
		}
	}
	if n := ln.Server().Stats().Total().SendPoolExhausted; n == 0 && mode != "lent" {
		t.Error("the send pool never ran out: the wait for room was not exercised")
	}
}

// A large Write lent to the worker (no deadline) to a peer that does not
// read: Close, or a write deadline set while it waits, ends it promptly
// with net.ErrClosed or os.ErrDeadlineExceeded, and the peer, which got
// only part of it, sees a reset, never a clean end.
func TestLentWriteEnds(t *testing.T) {
	for _, end := range []string{"close", "deadline"} {
		for _, b := range backends() {
			t.Run(end+"/"+string(b), func(t *testing.T) {
				ln, err := Listen(context.Background(), "tcp", "127.0.0.1:0", rio.Config{Backend: b, Workers: 1})
				if err != nil {
					t.Fatal(err)
				}
				defer ln.Close()
				peer, err := net.Dial("tcp", ln.Addr().String())
				if err != nil {
					t.Fatal(err)
				}
				defer peer.Close()
				c, err := ln.Accept()
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				wrote := make(chan error, 1)
				go func() {
					_, err := c.Write(make([]byte, 64<<20)) // far more than the socket buffers hold
					wrote <- err
				}()
				select {
				case err := <-wrote:
					t.Fatalf("Write to a peer that does not read returned: %v", err)
				case <-time.After(100 * time.Millisecond): // it blocks (no timing is asserted)
				}
				want := net.ErrClosed
				if end == "close" {
					c.Close()
				} else {
					c.SetWriteDeadline(time.Now())
					want = os.ErrDeadlineExceeded
				}
				select {
				case err := <-wrote:
					if !errors.Is(err, want) {
						t.Fatalf("Write ended with %v, want %v", err, want)
					}
				case <-time.After(hangGuard):
					t.Fatal("the lent Write never ended")
				}
				peer.SetReadDeadline(time.Now().Add(hangGuard))
				if _, err := io.Copy(io.Discard, peer); err == nil {
					t.Fatal("the peer read a clean end of a stream cut short")
				}
			})
		}
	}
}
