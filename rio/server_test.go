//go:build linux

package rio

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ringline-go/ringline/internal/leakcheck"
)

// Listen fails, leaving no descriptor behind, on a port another socket
// listens on (EADDRINUSE) and on a bad network or address; an IPv6
// loopback listener works and reports its port.
func TestListenErrors(t *testing.T) {
	forEachBackend(t, func(t *testing.T, cfg Config) {
		cfg.Workers = 2
		held, err := net.Listen("tcp", "127.0.0.1:0") // no SO_REUSEPORT
		if err != nil {
			t.Fatal(err)
		}
		defer held.Close()

		before := leakcheck.Fds()
		srv, err := Listen(context.Background(), "tcp", held.Addr().String(), cfg, echoHandler{})
		if err == nil {
			srv.Close()
			t.Fatalf("Listen on %s, held by another listener, succeeded", held.Addr())
		}
		if !errors.Is(err, syscall.EADDRINUSE) {
			t.Errorf("Listen on a held port: err = %v, want EADDRINUSE", err)
		}
		if after := leakcheck.Fds(); after != before {
			t.Errorf("failed Listen left %d descriptors (%d before, %d after)", after-before, before, after)
		}

		for _, bad := range [][2]string{
			{"udp", "127.0.0.1:0"},
			{"ip", "127.0.0.1:0"},
			{"", "127.0.0.1:0"},
			{"tcp", "localhost:0"},
			{"tcp", "127.0.0.1"},
			{"tcp4", "[::1]:0"},
			{"tcp6", "127.0.0.1:0"},
			{"unix", ""},
		} {
			srv, err := Listen(context.Background(), bad[0], bad[1], cfg, echoHandler{})
			if err == nil {
				srv.Close()
				t.Errorf("Listen(%q, %q) succeeded", bad[0], bad[1])
			}
		}
		if after := leakcheck.Fds(); after != before {
			t.Errorf("failed Listens left %d descriptors", after-before)
		}

		t.Run("ipv6", func(t *testing.T) {
			probe, err := net.Listen("tcp6", "[::1]:0")
			if err != nil {
				t.Skipf("no IPv6 loopback: %v", err)
			}
			probe.Close()
			srv := serve(t, "tcp", "[::1]:0", cfg, echoHandler{})
			a, ok := srv.Addr().(*net.TCPAddr)
			if !ok || a.Port == 0 || !a.IP.Equal(net.IPv6loopback) {
				t.Fatalf("Addr() = %v, want [::1] with a port", srv.Addr())
			}
			c, err := net.Dial("tcp", a.String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(30 * time.Second))
			if err := echoClient(c, [][]byte{[]byte("over IPv6")}); err != nil {
				t.Fatal(err)
			}
		})
	})
}

// Shutdown with 128 connections streaming: each client receives, before its
// EOF, exactly a prefix of what it sent, and that prefix is every byte the
// server's handler had handed to Send; OnClose says ErrServerClosed or
// io.EOF; Shutdown returns nil.
func TestShutdownGraceful128(t *testing.T) {
	forEachBackend(t, func(t *testing.T, cfg Config) {
		// The first part of each client's data outgrows the small kernel
		// buffers set below, so the server holds much of it queued, yet all
		// of it fits the server's send pool (16 MiB per worker) even if
		// every client lands on one worker.
		const conns, size, first = 128, 192 << 10, 128 << 10
		cfg.CloseLinger = 25 * time.Second // the clients' FIN, not the linger, ends each close

		var mu sync.Mutex
		queued := map[string]int{} // bytes Send took, per client address
		var causes, sendErrs []error
		srv := serve(t, "tcp", "127.0.0.1:0", cfg, &hooks{
			open: func(c Conn) {
				// A fixed, small send buffer (no autotuning): the server's
				// own queue, not the kernel, holds what the reader has not
				// taken yet. The descriptor is reached through the slot.
				if err := syscall.SetsockoptInt(c.w.conns.at(c.idx).fd, syscall.SOL_SOCKET, syscall.SO_SNDBUF, 8<<10); err != nil {
					mu.Lock()
					sendErrs = append(sendErrs, err)
					mu.Unlock()
				}
			},
			data: func(c Conn, p []byte) int {
				if err := c.Send(p); err != nil {
					if !errors.Is(err, ErrSendPoolExhausted) {
						mu.Lock()
						sendErrs = append(sendErrs, err)
						mu.Unlock()
					}
					return 0
				}
				mu.Lock()
				queued[c.RemoteAddr().String()] += len(p)
				mu.Unlock()
				return len(p)
			},
			closed: func(c Conn, err error) {
				mu.Lock()
				causes = append(causes, err)
				mu.Unlock()
			},
		})

		type client struct {
			c          net.Conn
			sent, got  []byte
			werr, rerr error
		}
		// Small socket buffers, writers that wait for Shutdown after their
		// first part and readers that pause after the first bytes make the
		// server hold queued sends when it is told to stop.
		d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
			var e1, e2 error
			err := rc.Control(func(fd uintptr) {
				e1 = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 8<<10)
				e2 = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_SNDBUF, 8<<10)
			})
			return errors.Join(err, e1, e2)
		}}
		clients := make([]*client, conns)
		for i := range clients {
			c, err := d.Dial("tcp", srv.Addr().String())
			if err != nil {
				for _, cl := range clients[:i] {
					cl.c.Close()
				}
				t.Fatalf("dial %d: %v", i, err)
			}
			c.SetDeadline(time.Now().Add(60 * time.Second))
			sent := make([]byte, size)
			r := rand.New(rand.NewPCG(uint64(i), 7))
			for j := range sent {
				sent[j] = byte(r.Uint32())
			}
			clients[i] = &client{c: c, sent: sent}
		}
		defer func() {
			for _, cl := range clients {
				cl.c.Close()
			}
		}()

		shutdownCalled := make(chan struct{})
		var callOnce sync.Once
		callShutdown := func() { callOnce.Do(func() { close(shutdownCalled) }) }
		defer callShutdown() // releases the clients if the test stops early
		var someEcho, wg sync.WaitGroup
		someEcho.Add(2 * conns) // each reader's first bytes, each writer's first part
		for i, cl := range clients {
			wg.Add(2)
			go func() { // writer: the first part, the rest once Shutdown is under way, then FIN
				defer wg.Done()
				r := rand.New(rand.NewPCG(uint64(i), 8))
				write := func(p []byte) error {
					for len(p) > 0 {
						n := min(len(p), 1+r.IntN(8<<10))
						if _, err := cl.c.Write(p[:n]); err != nil {
							return err
						}
						p = p[n:]
					}
					return nil
				}
				cl.werr = write(cl.sent[:first])
				someEcho.Done()
				if cl.werr != nil {
					return
				}
				<-shutdownCalled
				if cl.werr = write(cl.sent[first:]); cl.werr != nil {
					return
				}
				cl.werr = cl.c.(*net.TCPConn).CloseWrite()
			}()
			go func() { // reader: the first bytes, then everything up to EOF once Shutdown is under way
				defer wg.Done()
				var once sync.Once
				defer once.Do(someEcho.Done)
				buf := make([]byte, 32<<10)
				for {
					n, err := cl.c.Read(buf)
					if n > 0 {
						cl.got = append(cl.got, buf[:n]...)
						once.Do(func() {
							someEcho.Done()
							<-shutdownCalled
						})
					}
					if err != nil {
						if err != io.EOF {
							cl.rerr = err
						}
						return
					}
				}
			}()
		}
		echoed := make(chan struct{})
		go func() { someEcho.Wait(); close(echoed) }()
		within(t, "every client writes its first part and gets some echo", echoed, 60*time.Second)

		callShutdown()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		finished := make(chan struct{})
		go func() { wg.Wait(); close(finished) }()
		within(t, "clients finish", finished, 60*time.Second)

		mu.Lock()
		defer mu.Unlock()
		var total uint64
		partial := 0
		for i, cl := range clients {
			addr := cl.c.LocalAddr().String()
			if cl.werr != nil {
				t.Errorf("client %d: write: %v", i, cl.werr)
			}
			if cl.rerr != nil {
				t.Errorf("client %d: read: %v (after %d bytes)", i, cl.rerr, len(cl.got))
			}
			if len(cl.got) > len(cl.sent) {
				t.Errorf("client %d: received %d bytes, sent only %d", i, len(cl.got), len(cl.sent))
				continue
			}
			if d := firstDiff(cl.got, cl.sent[:len(cl.got)]); d >= 0 {
				t.Errorf("client %d: echo differs from what it sent at byte %d", i, d)
			}
			if q := queued[addr]; q != len(cl.got) {
				t.Errorf("client %d (%s): server queued %d bytes, client received %d before EOF", i, addr, q, len(cl.got))
			}
			if len(cl.got) < len(cl.sent) {
				partial++
			}
			total += uint64(len(cl.got))
		}
		st := srv.Stats().Total()
		t.Logf("%d of %d clients were cut short by the shutdown; the server waited for POLLOUT %d times, found its send pool exhausted %d times",
			partial, conns, st.PollOutWaits, st.SendPoolExhausted)
		if len(queued) != conns {
			t.Errorf("server saw data from %d connections, want %d", len(queued), conns)
		}
		if got := st.BytesOut; got != total {
			t.Errorf("Stats BytesOut = %d, clients received %d", got, total)
		}
		for _, err := range sendErrs {
			t.Errorf("Send: %v", err)
		}
		if len(causes) != conns {
			t.Errorf("OnClose ran %d times, want %d", len(causes), conns)
		}
		for _, err := range causes {
			if !errors.Is(err, ErrServerClosed) && err != io.EOF {
				t.Errorf("OnClose cause %v, want ErrServerClosed or io.EOF", err)
			}
		}
	})
}
