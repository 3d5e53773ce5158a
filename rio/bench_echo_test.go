//go:build linux

package rio

import (
	"context"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
)

// echoRoundTrips times b.N round trips of size bytes to the echo server at addr.
func echoRoundTrips(b *testing.B, addr string, size int) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	msg, got := make([]byte, size), make([]byte, size)
	for i := range msg {
		msg[i] = byte(i)
	}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := c.Write(msg); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(c, got); err != nil {
			b.Fatal(err)
		}
	}
}

// oneWorkerEcho starts a one-worker echo server on cfg's backend for the
// benchmark, closed at its end, and returns its address.
func oneWorkerEcho(b *testing.B, cfg Config) string {
	cfg.Workers = 1
	srv, err := Listen(context.Background(), "tcp", "127.0.0.1:0", cfg, echoHandler{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { srv.Close() })
	return srv.Addr().String()
}

// BenchmarkEchoNet is the baseline of BenchmarkEcho: the same client against
// Go's net package, one goroutine per connection copying input to output.
func BenchmarkEchoNet(b *testing.B) {
	for _, size := range []int{64, 1024} {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			done := make(chan struct{})
			go func() {
				defer close(done)
				c, err := ln.Accept()
				if err != nil {
					return
				}
				io.Copy(c, c)
				c.Close()
			}()
			echoRoundTrips(b, ln.Addr().String(), size)
			ln.Close()
			<-done
		})
	}
}

// BenchmarkEcho measures one echo round trip through a one-worker server
// over loopback: the client writes size bytes and reads them back. The
// allocation count covers the whole process, server worker included.
func BenchmarkEcho(b *testing.B) {
	for _, bc := range builtBackends() {
		if err := backendUsable(bc); err != nil {
			b.Skipf("%s unusable here: %v", bc.name, err)
		}
		for _, size := range []int{64, 1024} {
			b.Run(fmt.Sprintf("%s/%dB", bc.name, size), func(b *testing.B) {
				echoRoundTrips(b, oneWorkerEcho(b, bc.cfg), size)
			})
		}
	}
}

// echoParallel runs round trips of 1 KiB from 32 client connections per
// GOMAXPROCS at once against addr (b.RunParallel with SetParallelism(32)),
// each goroutine on its own connection.
func echoParallel(b *testing.B, addr string) {
	echoParallelDial(b, 1024, func() (net.Conn, error) { return net.Dial("tcp", addr) })
}

// echoParallelDial is echoParallel over connections dial makes.
func echoParallelDial(b *testing.B, size int, dial func() (net.Conn, error)) {
	b.SetParallelism(32)
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		c, err := dial()
		if err != nil {
			b.Error(err)
			return
		}
		defer c.Close()
		msg, got := make([]byte, size), make([]byte, size)
		for pb.Next() {
			if _, err := c.Write(msg); err != nil {
				b.Error(err)
				return
			}
			if _, err := io.ReadFull(c, got); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// serveNetEcho echoes every connection ln accepts on a goroutine of its
// own, as a Go net server does; stop closes ln and waits for them.
func serveNetEcho(ln net.Listener) (stop func()) {
	var wg sync.WaitGroup
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				io.Copy(c, c)
				c.Close()
			}()
		}
	}()
	return func() {
		ln.Close()
		wg.Wait()
	}
}

// BenchmarkEchoParallel is the loaded case: many connections, one worker
// (or, for net, Go's scheduler over GOMAXPROCS threads).
func BenchmarkEchoParallel(b *testing.B) {
	b.Run("net", func(b *testing.B) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		stop := serveNetEcho(ln)
		echoParallel(b, ln.Addr().String())
		stop()
	})
	for _, bc := range builtBackends() {
		if err := backendUsable(bc); err != nil {
			b.Skipf("%s unusable here: %v", bc.name, err)
		}
		b.Run(bc.name, func(b *testing.B) {
			echoParallel(b, oneWorkerEcho(b, bc.cfg))
		})
	}
}
