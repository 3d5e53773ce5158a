//go:build linux

package rionet

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/ringline-go/ringline/rio"
)

// A read deadline that passes fails a blocked Read with a timeout; one
// extended while a Read waits holds it until input arrives; the Conn
// still reads afterwards. Close during a blocked Read ends it with
// net.ErrClosed.
func TestDeadlinesAndCloseDuringRead(t *testing.T) {
	for _, b := range backends() {
		t.Run(string(b), func(t *testing.T) {
			c, peer := acceptedPair(t, b)
			buf := make([]byte, 16)
			c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
			var ne net.Error
			if _, err := c.Read(buf); !errors.As(err, &ne) || !ne.Timeout() || !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("Read past its deadline: %v, want a timeout", err)
			}

			// Extend the deadline again and again while a Read waits, then
			// send: the Read gets the bytes, not a timeout.
			c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
			got := make(chan error, 1)
			go func() {
				n, err := c.Read(buf)
				if err == nil && string(buf[:n]) != "late" {
					err = fmt.Errorf("read %q", buf[:n])
				}
				got <- err
			}()
			for range 5 {
				time.Sleep(20 * time.Millisecond)
				c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
			}
			c.SetReadDeadline(time.Time{})
			peer.Write([]byte("late"))
			if err := <-got; err != nil {
				t.Fatalf("Read whose deadline kept moving: %v", err)
			}

			// Close while a Read waits.
			go func() {
				_, err := c.Read(buf)
				got <- err
			}()
			time.Sleep(20 * time.Millisecond)
			c.Close()
			select {
			case err := <-got:
				if !errors.Is(err, net.ErrClosed) {
					t.Fatalf("Read blocked across Close: %v, want net.ErrClosed", err)
				}
			case <-time.After(hangGuard):
				t.Fatal("Close did not end a blocked Read")
			}
		})
	}
}

// Many goroutines, each with its own adapter connection to an echo served
// by io.Copy on adapter Conns, write random messages and read them back
// while others do: every byte comes back, in order, on its own connection.
func TestManyGoroutinesEveryByte(t *testing.T) {
	for _, b := range backends() {
		t.Run(string(b), func(t *testing.T) {
			ln := listen(t, rio.Config{Backend: b, Workers: 2})
			echoAll(ln)
			d, err := NewDialer(context.Background(), rio.Config{Backend: b, Workers: 2})
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			const goroutines, rounds = 16, 10
			var wg sync.WaitGroup
			errs := make(chan error, goroutines)
			for g := range goroutines {
				wg.Add(1)
				go func() {
					defer wg.Done()
					c, err := d.DialContext(context.Background(), "tcp", ln.Addr().String())
					if err != nil {
						errs <- err
						return
					}
					defer c.Close()
					c.SetDeadline(time.Now().Add(hangGuard))
					r := rand.New(rand.NewPCG(uint64(g), 9))
					for i := range rounds {
						msg := make([]byte, 1+r.IntN(300<<10))
						for j := range msg {
							msg[j] = byte(r.Uint32())
						}
						wrote := make(chan error, 1)
						go func() { _, err := c.Write(msg); wrote <- err }()
						back := make([]byte, len(msg))
						if _, err := io.ReadFull(c, back); err != nil {
							errs <- fmt.Errorf("goroutine %d round %d: read: %w", g, i, err)
							return
						}
						if err := <-wrote; err != nil {
							errs <- fmt.Errorf("goroutine %d round %d: write: %w", g, i, err)
							return
						}
						if !bytes.Equal(back, msg) {
							errs <- fmt.Errorf("goroutine %d round %d: %d bytes came back changed", g, i, len(msg))
							return
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
		})
	}
}
