//go:build linux

package rionet

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"testing"
	"time"

	"github.com/ringline-go/ringline/rio"
)

// Many Writes on one worker whose send pool holds 4 KiB: most of the time
// it is full of other Conns' bytes while the writer has none queued, so
// its Write waits for a send or a close elsewhere on the worker to make
// room (no completion of its own is coming). Every Write completes, and
// every byte reaches its reader in order.
func TestWritesShareTinySendPool(t *testing.T) {
	for _, b := range backends() {
		t.Run(string(b), func(t *testing.T) {
			cfg := rio.Config{Backend: b, Workers: 1, SendSlots: 4, SendSlotSize: 1024}
			ln, err := Listen(context.Background(), "tcp", "127.0.0.1:0", cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			const writers, size = 16, 256 << 10
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
				c.SetWriteDeadline(time.Now().Add(hangGuard))
				go func() {
					// The reader's local port names the payload it expects.
					port := c.RemoteAddr().(*net.TCPAddr).Port
					_, err := c.Write(payload(port))
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
			if n := ln.Server().Stats().Total().SendPoolExhausted; n == 0 {
				t.Error("the send pool never ran out: the wait for room was not exercised")
			}
		})
	}
}
