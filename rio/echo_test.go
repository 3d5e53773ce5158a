//go:build linux

package rio

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"testing"
	"time"
)

// echoClient writes msgs on conn while reading the echo back concurrently,
// and checks every byte.
func echoClient(conn net.Conn, msgs [][]byte) error {
	var want bytes.Buffer
	for _, m := range msgs {
		want.Write(m)
	}
	errc := make(chan error, 1)
	go func() {
		for _, m := range msgs {
			if _, err := conn.Write(m); err != nil {
				errc <- fmt.Errorf("write: %w", err)
				return
			}
		}
		errc <- nil
	}()
	got := make([]byte, want.Len())
	if _, err := io.ReadFull(conn, got); err != nil {
		return fmt.Errorf("read %d bytes: %w", len(got), err)
	}
	if err := <-errc; err != nil {
		return err
	}
	if i := firstDiff(got, want.Bytes()); i >= 0 {
		return fmt.Errorf("echo differs at byte %d of %d", i, len(got))
	}
	return nil
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	if len(a) != len(b) {
		return min(len(a), len(b))
	}
	return -1
}

// randomMessages returns n messages of random sizes in [1, maxSize], each
// filled with random bytes.
func randomMessages(r *rand.Rand, n, maxSize int) [][]byte {
	msgs := make([][]byte, n)
	for i := range msgs {
		m := make([]byte, 1+r.IntN(maxSize))
		for j := range m {
			m[j] = byte(r.Uint32())
		}
		msgs[i] = m
	}
	return msgs
}

// echoClients runs n clients at once against addr, each echoing perConn
// random messages of 1 to maxSize bytes (seeded by its index and seed), and
// reports every failure.
func echoClients(t *testing.T, addr string, n, perConn, maxSize int, seed uint64) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.Dial("tcp", addr)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(60 * time.Second))
			r := rand.New(rand.NewPCG(uint64(i), seed))
			if err := echoClient(c, randomMessages(r, perConn, maxSize)); err != nil {
				errs <- fmt.Errorf("conn %d: %w", i, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestEcho checks echo at 1, 128 and 1000 connections, each pipelining
// random messages (1 B to 256 KiB; 16 KiB at 1000) with every byte checked.
func TestEcho(t *testing.T) {
	forEachBackend(t, func(t *testing.T, cfg Config) {
		for _, conns := range []int{1, 128, 1000} {
			t.Run(fmt.Sprint(conns), func(t *testing.T) {
				srv := serve(t, "tcp", "127.0.0.1:0", cfg, echoHandler{})
				perConn, maxSize := 8, 256<<10
				if conns == 1000 {
					perConn, maxSize = 3, 16<<10
				}
				echoClients(t, srv.Addr().String(), conns, perConn, maxSize, uint64(conns))
			})
		}
	})
}
