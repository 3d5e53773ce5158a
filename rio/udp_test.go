//go:build linux

package rio

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// udpEcho sends every datagram back to its sender; refusals go to errs.
type udpEcho struct {
	errs    chan error
	workers sync.Map // worker id -> datagrams it served
	panicOn string
	truncs  atomic.Int64
}

func (h *udpEcho) OnDatagram(w *Worker, from netip.AddrPort, data []byte) {
	if h.panicOn != "" && string(data) == h.panicOn {
		panic("udpEcho: asked to panic")
	}
	n, _ := h.workers.LoadOrStore(w.ID(), new(atomic.Int64))
	n.(*atomic.Int64).Add(1)
	if err := w.SendTo(data, from); err != nil && h.errs != nil {
		h.errs <- err
	}
}

func (h *udpEcho) OnTruncated(_ *Worker, _ netip.AddrPort, size int) { h.truncs.Store(int64(size)) }

// serveUDP starts a UDP server for the test and closes it at the end.
func serveUDP(t *testing.T, addr string, cfg Config, h DatagramHandler) *Server {
	t.Helper()
	if cfg.Workers == 0 {
		cfg.Workers = 1
	}
	srv, err := ListenUDP(t.Context(), "udp", addr, cfg, h)
	if err != nil {
		t.Fatalf("ListenUDP(%s): %v", addr, err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return srv
}

// udpClient dials the server from a socket of its own.
func udpClient(t *testing.T, srv *Server) *net.UDPConn {
	t.Helper()
	c, err := net.DialUDP("udp", nil, srv.Addr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// roundTrip sends msg and reads one datagram back.
func roundTrip(t *testing.T, c *net.UDPConn, msg []byte) []byte {
	t.Helper()
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 70000)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatalf("reading the echo of %d bytes: %v", len(msg), err)
	}
	return buf[:n]
}

// Datagrams from two peers, over IPv4 and IPv6, come back each to its own
// sender, whole.
func TestUDPEchoTwoPeers(t *testing.T) {
	forEachBackend(t, func(t *testing.T, cfg Config) {
		for _, addr := range []string{"127.0.0.1:0", "[::1]:0"} {
			srv := serveUDP(t, addr, cfg, &udpEcho{})
			a, b := udpClient(t, srv), udpClient(t, srv)
			for i := range 50 {
				for _, c := range []*net.UDPConn{a, b} {
					msg := []byte(fmt.Sprintf("%s from %s #%d", addr, c.LocalAddr(), i))
					if got := roundTrip(t, c, msg); !bytes.Equal(got, msg) {
						t.Fatalf("%s: got %q, want %q", addr, got, msg)
					}
				}
			}
			// A send is counted when its completion is handled, which may be
			// after the peer has read the datagram.
			st := srv.Stats().Total()
			for deadline := time.Now().Add(10 * time.Second); st.DatagramsOut < 100 && time.Now().Before(deadline); st = srv.Stats().Total() {
				time.Sleep(time.Millisecond)
			}
			if st.DatagramsIn != 100 || st.DatagramsOut != 100 {
				t.Fatalf("%s: stats in %d out %d, want 100 each", addr, st.DatagramsIn, st.DatagramsOut)
			}
		}
	})
}

// A datagram larger than DgramSize is reported as truncated and never
// delivered; SendTo refuses one larger than DgramSize whole; a panic in
// OnDatagram is counted and the next datagram is served.
func TestUDPTruncationOversizeAndPanic(t *testing.T) {
	forEachBackend(t, func(t *testing.T, cfg Config) {
		cfg.DgramSize = 1000
		h := &udpEcho{errs: make(chan error, 4), panicOn: "boom"}
		srv := serveUDP(t, "127.0.0.1:0", cfg, h)
		c := udpClient(t, srv)
		if _, err := c.Write(make([]byte, 1500)); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write([]byte("boom")); err != nil {
			t.Fatal(err)
		}
		if got := roundTrip(t, c, []byte("after")); string(got) != "after" {
			t.Fatalf("got %q after a truncated datagram and a panic", got)
		}
		st := srv.Stats().Total()
		if st.DatagramsTruncated != 1 || h.truncs.Load() != 1500 || st.CallbackPanics != 1 || st.DatagramsIn != 2 {
			t.Fatalf("truncated %d (size %d), panics %d, in %d; want 1 (1500), 1, 2", st.DatagramsTruncated, h.truncs.Load(), st.CallbackPanics, st.DatagramsIn)
		}
		errc := make(chan error, 1)
		srv.Run(0, func(w *Worker) { errc <- w.SendTo(make([]byte, 1001), netip.MustParseAddrPort("127.0.0.1:9")) })
		if err := <-errc; !errors.Is(err, ErrDatagramTooLarge) {
			t.Fatalf("SendTo of 1001 bytes: %v, want ErrDatagramTooLarge", err)
		}
	})
}

// With two send slots, a third SendTo in one call is refused whole with
// ErrSendPoolExhausted, and the two queued go out intact.
func TestUDPSendPoolExhausted(t *testing.T) {
	forEachBackend(t, func(t *testing.T, cfg Config) {
		cfg.DgramSendSlots = 2
		srv := serveUDP(t, "127.0.0.1:0", cfg, &udpEcho{})
		c := udpClient(t, srv)
		to := c.LocalAddr().(*net.UDPAddr).AddrPort()
		errc := make(chan [3]error, 1)
		srv.Run(0, func(w *Worker) {
			var e [3]error
			for i := range e {
				e[i] = w.SendTo([]byte{byte('a' + i), 'x'}, to)
			}
			errc <- e
		})
		e := <-errc
		if e[0] != nil || e[1] != nil || !errors.Is(e[2], ErrSendPoolExhausted) {
			t.Fatalf("SendTo errors %v; want nil, nil, ErrSendPoolExhausted", e)
		}
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		for _, want := range []string{"ax", "bx"} {
			buf := make([]byte, 10)
			n, err := c.Read(buf)
			if err != nil || string(buf[:n]) != want {
				t.Fatalf("read %q, %v; want %q", buf[:n], err, want)
			}
		}
		if st := srv.Stats().Total(); st.DatagramSendRefused != 1 { // counted at the refusal, before the reads
			t.Fatalf("DatagramSendRefused %d, want 1", st.DatagramSendRefused)
		}
	})
}

// SO_REUSEPORT spreads senders across the workers.
func TestUDPReuseportSpreads(t *testing.T) {
	forEachBackend(t, func(t *testing.T, cfg Config) {
		cfg.Workers = 2
		h := &udpEcho{}
		srv := serveUDP(t, "127.0.0.1:0", cfg, h)
		for i := range 64 {
			c := udpClient(t, srv)
			msg := []byte(fmt.Sprint(i))
			if got := roundTrip(t, c, msg); !bytes.Equal(got, msg) {
				t.Fatalf("got %q want %q", got, msg)
			}
		}
		for id := range 2 {
			n, ok := h.workers.Load(id)
			if !ok || n.(*atomic.Int64).Load() == 0 {
				t.Fatalf("worker %d served no datagram of 64 senders", id)
			}
		}
	})
}

// A burst larger than the receive pool: receives run dry and are re-armed;
// of the datagrams that arrive (the socket may drop some), none is
// duplicated or corrupted.
func TestUDPBurstPastThePool(t *testing.T) {
	forEachBackend(t, func(t *testing.T, cfg Config) {
		cfg.DgramEntries = 4
		var mu sync.Mutex
		seen := map[string]int{}
		h := datagramFunc(func(w *Worker, from netip.AddrPort, data []byte) {
			mu.Lock()
			seen[string(data)]++
			mu.Unlock()
		})
		srv := serveUDP(t, "127.0.0.1:0", cfg, h)
		c := udpClient(t, srv)
		const n = 2000
		for i := range n {
			if _, err := c.Write([]byte(fmt.Sprintf("datagram %05d %s", i, bytes.Repeat([]byte{byte(i)}, i%200)))); err != nil {
				t.Fatal(err)
			}
		}
		// "end", sent until it is seen, follows every datagram of the burst
		// through the socket: once it is in, all that survived have been.
		deadline := time.Now().Add(10 * time.Second)
		for roundTripCount(&mu, seen, "end") == 0 {
			if time.Now().After(deadline) {
				t.Fatal("the end marker never arrived")
			}
			if _, err := c.Write([]byte("end")); err != nil {
				t.Fatal(err)
			}
			time.Sleep(10 * time.Millisecond)
		}
		mu.Lock()
		defer mu.Unlock()
		for k, v := range seen {
			if k == "end" {
				continue
			}
			if v != 1 {
				t.Fatalf("%q delivered %d times", k[:14], v)
			}
			var i int
			if _, err := fmt.Sscanf(k, "datagram %05d", &i); err != nil || k != fmt.Sprintf("datagram %05d %s", i, bytes.Repeat([]byte{byte(i)}, i%200)) {
				t.Fatalf("corrupted datagram %q", k)
			}
		}
		if len(seen) < 2 {
			t.Fatal("no datagram of the burst arrived")
		}
		if dry := srv.Stats().Total().DatagramNoBuffers; cfg.Backend == BackendIOUring && dry == 0 {
			t.Fatal("the burst never ran the 4-buffer pool dry: the re-arm path was not exercised")
		}
		t.Logf("%d of %d datagrams arrived; receives ran dry %d times", len(seen)-1, n, srv.Stats().Total().DatagramNoBuffers)
	})
}

// roundTripCount is how often key was seen.
func roundTripCount(mu *sync.Mutex, seen map[string]int, key string) int {
	mu.Lock()
	defer mu.Unlock()
	return seen[key]
}

// datagramFunc adapts a function to DatagramHandler.
type datagramFunc func(w *Worker, from netip.AddrPort, data []byte)

func (f datagramFunc) OnDatagram(w *Worker, from netip.AddrPort, data []byte) { f(w, from, data) }

// Closing a server whose handler queues replies as fast as it can leaves
// nothing behind (TestMain checks descriptors and mappings).
func TestUDPShutdownWithSendsInFlight(t *testing.T) {
	forEachBackend(t, func(t *testing.T, cfg Config) {
		h := datagramFunc(func(w *Worker, from netip.AddrPort, data []byte) {
			for w.SendTo(data, from) == nil {
			}
		})
		srv, err := ListenUDP(t.Context(), "udp", "127.0.0.1:0", Config{Backend: cfg.Backend, Workers: 1}, h)
		if err != nil {
			t.Fatal(err)
		}
		c := udpClient(t, srv)
		for range 10 {
			c.Write([]byte("flood"))
		}
		time.Sleep(20 * time.Millisecond)
		if err := srv.Close(); err != nil {
			t.Fatal(err)
		}
		if st := srv.Stats().Total(); st.DatagramsIn == 0 || st.DatagramsOut == 0 {
			t.Fatalf("in %d out %d: the flood never ran", st.DatagramsIn, st.DatagramsOut)
		}
	})
}

// GSO and GRO: a SendToSegments reaches the peer as separate datagrams of
// the segment size; a sender's GSO burst to a UDP_GRO server is split
// back into its datagrams before OnDatagram sees them, every byte in
// place.
func TestUDPSegmentsAndCoalescing(t *testing.T) {
	forEachBackend(t, func(t *testing.T, cfg Config) {
		cfg.UDPGRO = true
		var mu sync.Mutex
		var got [][]byte
		h := datagramFunc(func(w *Worker, from netip.AddrPort, data []byte) {
			mu.Lock()
			got = append(got, bytes.Clone(data))
			mu.Unlock()
			if string(data) == "segments please" {
				payload := make([]byte, 350)
				for i := range payload {
					payload[i] = byte(i)
				}
				if err := w.SendToSegments(payload, 100, from); err != nil {
					panic(err)
				}
			}
		})
		srv := serveUDP(t, "127.0.0.1:0", cfg, h)
		c := udpClient(t, srv)

		// The server cuts 350 bytes into 100, 100, 100, 50.
		if _, err := c.Write([]byte("segments please")); err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		for i, want := range []int{100, 100, 100, 50} {
			buf := make([]byte, 1000)
			n, err := c.Read(buf)
			if err != nil || n != want || buf[0] != byte(i*100) || buf[n-1] != byte(i*100+n-1) {
				t.Fatalf("segment %d: %d bytes starting %d, %v; want %d bytes from %d", i, n, buf[0], err, want, i*100)
			}
		}

		// The client sends 5 datagrams of 200 bytes in one GSO call.
		raw, err := c.SyscallConn()
		if err != nil {
			t.Fatal(err)
		}
		raw.Control(func(fd uintptr) {
			err = unix.SetsockoptInt(int(fd), unix.SOL_UDP, unix.UDP_SEGMENT, 200)
		})
		if err != nil {
			t.Skipf("UDP_SEGMENT: %v", err)
		}
		burst := make([]byte, 1000)
		for i := range burst {
			burst[i] = byte(i / 200)
		}
		if _, err := c.Write(burst); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			mu.Lock()
			n := len(got)
			mu.Unlock()
			if n >= 6 || time.Now().After(deadline) {
				break
			}
			time.Sleep(time.Millisecond)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(got) != 6 {
			t.Fatalf("%d datagrams delivered, want the request and 5 of the burst", len(got))
		}
		for i, d := range got[1:] {
			if len(d) != 200 || !bytes.Equal(d, bytes.Repeat([]byte{byte(i)}, 200)) {
				t.Fatalf("datagram %d of the burst: %d bytes %v...; want 200 bytes of %d", i, len(d), d[:min(4, len(d))], i)
			}
		}
		st := srv.Stats().Total()
		t.Logf("coalesced receives %d, GSO sends %d, datagrams out %d", st.DatagramsCoalesced, st.DatagramGSOSends, st.DatagramsOut)
		if st.DatagramGSOSends != 1 || st.DatagramsOut < 4 {
			t.Errorf("DatagramGSOSends %d, DatagramsOut %d; want 1 send of 4 datagrams", st.DatagramGSOSends, st.DatagramsOut)
		}
		if st.DatagramsCoalesced == 0 {
			t.Skip("the burst arrived as separate datagrams (no GRO on this path): the split was not exercised")
		}
	})
}

// A connected datagram socket: Send reaches the peer and its replies come
// back to the handler; to a port no one listens on, the kernel's ICMP
// report comes back as ECONNREFUSED, and the socket stays usable.
func TestUDPConnSendReceiveAndRefused(t *testing.T) {
	forEachBackend(t, func(t *testing.T, cfg Config) {
		for _, addr := range []string{"127.0.0.1:0", "[::1]:0"} {
			peer, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort(addr)))
			if err != nil {
				t.Fatal(err)
			}
			defer peer.Close()
			go func() { // the peer echoes
				buf := make([]byte, 100)
				for {
					n, from, err := peer.ReadFromUDP(buf)
					if err != nil {
						return
					}
					peer.WriteToUDP(buf[:n], from)
				}
			}()
			gone, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort(addr)))
			if err != nil {
				t.Fatal(err)
			}
			goneAddr := gone.LocalAddr().String()
			gone.Close() // its port is now unreachable

			srv := startClient(t, Config{Backend: cfg.Backend, Workers: 1}, NopHandler{})
			type event struct {
				data string
				err  error
			}
			events := make(chan event, 8)
			h := func(c UDPConn, data []byte, err error) { events <- event{string(data), err} }
			errc := make(chan error, 2)
			srv.Run(0, func(w *Worker) {
				c, err := w.DialUDP("udp", peer.LocalAddr().String(), h)
				if err == nil {
					err = c.Send([]byte("hello " + addr))
				}
				errc <- err
				c2, err := w.DialUDP("udp", goneAddr, h)
				if err == nil {
					err = c2.Send([]byte("anyone?"))
				}
				errc <- err
			})
			for range 2 {
				if err := <-errc; err != nil {
					t.Fatal(err)
				}
			}
			var echoed, refused bool
			for !echoed || !refused {
				select {
				case e := <-events:
					switch {
					case e.err == nil && e.data == "hello "+addr:
						echoed = true
					case errors.Is(e.err, syscall.ECONNREFUSED):
						var oe *net.OpError
						if !errors.As(e.err, &oe) || oe.Net != "udp" {
							t.Fatalf("refusal %v is not a *net.OpError", e.err)
						}
						refused = true
					default:
						t.Fatalf("unexpected event %q, %v", e.data, e.err)
					}
				case <-time.After(10 * time.Second):
					t.Fatalf("%s: echoed %v, refused %v after 10s", addr, echoed, refused)
				}
			}
		}
	})
}

// After the kernel reports the peer unreachable, a UDPConn stays usable:
// once something listens on that port, its datagrams and the replies get
// through.
func TestUDPConnUsableAfterRefusal(t *testing.T) {
	forEachBackend(t, func(t *testing.T, cfg Config) {
		probe, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		addr := probe.LocalAddr().(*net.UDPAddr)
		probe.Close()
		srv := startClient(t, Config{Backend: cfg.Backend, Workers: 1}, NopHandler{})
		events := make(chan error, 16)
		conn := make(chan UDPConn, 1)
		h := func(c UDPConn, data []byte, err error) {
			if err == nil && string(data) != "again" {
				err = fmt.Errorf("got %q", data)
			}
			events <- err
		}
		srv.Run(0, func(w *Worker) {
			c, err := w.DialUDP("udp", addr.String(), h)
			if err == nil {
				err = c.Send([]byte("anyone?"))
			}
			if err != nil {
				events <- err
			}
			conn <- c
		})
		c := <-conn
		select {
		case err := <-events:
			if !errors.Is(err, syscall.ECONNREFUSED) {
				t.Fatalf("first event %v, want ECONNREFUSED", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no refusal within 10s")
		}
		peer, err := net.ListenUDP("udp", addr)
		if err != nil {
			t.Skipf("the port was taken meanwhile: %v", err)
		}
		defer peer.Close()
		go func() {
			buf := make([]byte, 100)
			if n, from, err := peer.ReadFromUDP(buf); err == nil {
				peer.WriteToUDP(buf[:n], from)
			}
		}()
		srv.Run(0, func(w *Worker) {
			if err := c.Send([]byte("again")); err != nil {
				events <- err
			}
		})
		select {
		case err := <-events:
			if err != nil {
				t.Fatalf("after the refusal: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no reply within 10s after the refusal")
		}
	})
}
