//go:build linux

package rionet

import (
	"bytes"
	"crypto/tls"
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
	ln := listen(t, cfg)
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
// only part of it, sees a reset, never a clean end. (The peer reads a byte
// first: a Close before the Write sent anything may end an empty stream
// cleanly.)
func TestLentWriteEnds(t *testing.T) {
	for _, end := range []string{"close", "deadline"} {
		for _, b := range backends() {
			t.Run(end+"/"+string(b), func(t *testing.T) {
				c, peer := acceptedPair(t, b)
				wrote := make(chan error, 1)
				go func() {
					_, err := c.Write(make([]byte, 64<<20)) // far more than the socket buffers hold
					wrote <- err
				}()
				if _, err := io.ReadFull(peer, make([]byte, 1)); err != nil { // the Write is under way: its bytes are lent
					t.Fatal(err)
				}
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

// Lent Writes of several budgets each, one after another, with the
// caller's buffer overwritten as soon as each returns: the peer gets
// exactly what was written, so no Write returned while the kernel could
// still read its slice (a drained token left from inside one Write let
// the next return early).
func TestLentWritesReturnWhenSent(t *testing.T) {
	for _, b := range backends() {
		t.Run(string(b), func(t *testing.T) {
			c, peer := pairOn(t, listen(t, rio.Config{Backend: b, Workers: 1, SendBudget: 64 << 10}))
			const rounds, size = 16, 2 << 20
			got := make(chan []byte, 1)
			go func() {
				var all []byte
				buf := make([]byte, 16<<10)
				for {
					if len(all)%size > size/2 {
						time.Sleep(50 * time.Microsecond) // slow near the end of each Write, so its queue drains in pieces
					}
					n, err := peer.Read(buf)
					all = append(all, buf[:n]...)
					if err != nil {
						break
					}
				}
				got <- all
			}()
			var want []byte
			p := make([]byte, size)
			for r := range rounds {
				for i := range p {
					p[i] = byte(r + 1)
				}
				want = append(want, p...)
				if _, err := c.Write(p); err != nil {
					t.Fatal(err)
				}
				for i := range p {
					p[i] = 0xEE // the caller reuses its buffer at once
				}
			}
			c.Close()
			if all := <-got; !bytes.Equal(all, want) {
				t.Fatalf("the peer got %d bytes, %d written, not the same: a Write returned before its slice was sent", len(all), len(want))
			}
		})
	}
}

// After CloseWrite, a Write fails at once with net.ErrClosed, small
// (buffered) or large (lent), as on a shut socket.
func TestWriteAfterCloseWrite(t *testing.T) {
	for _, b := range backends() {
		t.Run(string(b), func(t *testing.T) {
			c, _ := acceptedPair(t, b)
			if err := c.(*Conn).CloseWrite(); err != nil {
				t.Fatal(err)
			}
			for _, n := range []int{10, 1 << 20} {
				done := make(chan error, 1)
				go func() { _, err := c.Write(make([]byte, n)); done <- err }()
				select {
				case err := <-done:
					if !errors.Is(err, net.ErrClosed) {
						t.Errorf("Write of %d bytes after CloseWrite: %v, want net.ErrClosed", n, err)
					}
				case <-time.After(hangGuard):
					t.Fatalf("Write of %d bytes after CloseWrite never returned", n)
				}
			}
		})
	}
}

// The adapter over rio's own TLS (Config.TLS): Writes small and larger
// than the outbound buffer reach a crypto/tls client whole.
func TestWriteOverRioTLS(t *testing.T) {
	cert, pool := selfSigned(t)
	for _, b := range backends() {
		t.Run(string(b), func(t *testing.T) {
			cfg := rio.Config{Backend: b, Workers: 1, TLS: &tls.Config{Certificates: []tls.Certificate{cert}}}
			ln := listen(t, cfg)
			got := make(chan []byte, 1)
			go func() {
				cc, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: pool})
				if err != nil {
					got <- nil
					return
				}
				defer cc.Close()
				cc.SetDeadline(time.Now().Add(hangGuard))
				all, _ := io.ReadAll(cc)
				got <- all
			}()
			c, err := ln.Accept()
			if err != nil {
				t.Fatal(err)
			}
			small, large := bytes.Repeat([]byte("s"), 1000), bytes.Repeat([]byte("L"), 1<<20)
			for _, p := range [][]byte{small, large} {
				if _, err := c.Write(p); err != nil {
					t.Fatalf("Write of %d bytes: %v", len(p), err)
				}
			}
			c.Close()
			if all := <-got; !bytes.Equal(all, append(small, large...)) {
				t.Fatalf("the TLS client got %d bytes, want %d", len(all), len(small)+len(large))
			}
		})
	}
}

// Over Config.TLS a large Write copies into the shared pool: when other
// connections' bytes fill it while this one has none queued, the Write
// waits for room made elsewhere on the worker, and completes.
func TestLargeWriteOverRioTLSFullPool(t *testing.T) {
	cert, pool := selfSigned(t)
	for _, b := range backends() {
		t.Run(string(b), func(t *testing.T) {
			cfg := rio.Config{Backend: b, Workers: 1, SendSlots: 8, SendSlotSize: 64 << 10, SendBudget: 4 << 20, // A may fill the whole pool
				TLS: &tls.Config{Certificates: []tls.Certificate{cert}}}
			ln := listen(t, cfg)
			dial := func(addr string) (net.Conn, error) { return tls.Dial("tcp", addr, &tls.Config{RootCAs: pool}) }
			a, peerA := pairDial(t, ln, dial)
			bc, peerB := pairDial(t, ln, dial)
			const big = 32 << 20
			wroteA := make(chan error, 1)
			go func() { _, err := a.Write(make([]byte, big)); wroteA <- err }() // its peer reads nothing yet: the pool fills
			time.Sleep(100 * time.Millisecond)
			wroteB := make(chan error, 1)
			go func() { _, err := bc.Write(make([]byte, 1<<20)); wroteB <- err }()
			go io.CopyN(io.Discard, peerA, big)
			if _, err := io.ReadFull(peerB, make([]byte, 1<<20)); err != nil {
				t.Fatalf("B's peer: %v", err)
			}
			for name, ch := range map[string]chan error{"A": wroteA, "B": wroteB} {
				select {
				case err := <-ch:
					if err != nil {
						t.Errorf("%s's Write: %v", name, err)
					}
				case <-time.After(hangGuard):
					t.Fatalf("%s's Write never returned", name)
				}
			}
		})
	}
}
