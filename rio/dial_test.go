//go:build linux

package rio

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// rtDialOutcome is what a client handler saw of one dial.
type rtDialOutcome struct {
	opened bool
	err    error // the OnClose cause
}

// rtDialOnce starts a one-worker client that dials network/addr from
// OnStart and reports the dial's end: OnClose, and whether OnOpen ran first.
// A connection that opens is closed at once.
func rtDialOnce(t *testing.T, cfg Config, network, addr string, timeout time.Duration) rtDialOutcome {
	t.Helper()
	cfg.Workers = 1
	res := make(chan rtDialOutcome, 1)
	errc := make(chan error, 1)
	var dialed Conn
	opened := false
	startClient(t, cfg, &hooks{
		start: func(w *Worker) {
			c, err := w.Dial(network, addr, timeout)
			if err != nil {
				errc <- err
				return
			}
			dialed = c
		},
		open: func(c Conn) {
			opened = true
			c.Close()
		},
		closed: func(c Conn, err error) {
			if c != dialed {
				errc <- fmt.Errorf("OnClose for %v, dialed %v", c, dialed)
				return
			}
			res <- rtDialOutcome{opened, err}
		},
	})
	select {
	case err := <-errc:
		t.Fatalf("Dial(%s, %s): %v", network, addr, err)
	case r := <-res:
		return r
	case <-time.After(60 * time.Second):
		t.Fatalf("Dial(%s, %s): no OnClose after 60s", network, addr)
	}
	return rtDialOutcome{}
}

// A dial to a port nobody listens on ends in OnClose with ECONNREFUSED,
// without OnOpen.
func TestDialRefused(t *testing.T) {
	forEachBackend(t, func(t *testing.T, cfg Config) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		r := rtDialOnce(t, cfg, "tcp", addr, 0)
		if r.opened {
			t.Errorf("OnOpen ran for a refused dial")
		}
		if !errors.Is(r.err, syscall.ECONNREFUSED) {
			t.Errorf("OnClose cause %v, want ECONNREFUSED", r.err)
		}
		var op *net.OpError
		if !errors.As(r.err, &op) || op.Op != "dial" {
			t.Errorf("OnClose cause %v (%T), want a *net.OpError for dial", r.err, r.err)
		}
	})
}

// A dial that the kernel leaves hanging (the listener's accept queue is
// full, so its SYNs are dropped) ends after its timeout with ErrDialTimeout,
// which matches os.ErrDeadlineExceeded.
func TestDialTimeout(t *testing.T) {
	forEachBackend(t, func(t *testing.T, cfg Config) {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(fd)
		if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
			t.Fatal(err)
		}
		if err := unix.Listen(fd, 0); err != nil { // never accepted from
			t.Fatal(err)
		}
		sa, err := unix.Getsockname(fd)
		if err != nil {
			t.Fatal(err)
		}
		addr := fmt.Sprintf("127.0.0.1:%d", sa.(*unix.SockaddrInet4).Port)

		// Fill the accept queue until a connect goes unanswered.
		full, filled := false, 0
		for range 8 {
			c, err := net.DialTimeout("tcp", addr, 300*time.Millisecond)
			if err != nil {
				if ne, ok := err.(net.Error); ok && ne.Timeout() {
					full = true
					break
				}
				t.Fatalf("filling the accept queue: %v", err)
			}
			defer c.Close()
			filled++
		}
		t.Logf("the accept queue was full after %d connections", filled)
		if !full {
			t.Skip("the kernel kept completing connects to a listener that never accepts")
		}

		r := rtDialOnce(t, cfg, "tcp", addr, 200*time.Millisecond)
		if r.opened {
			t.Skip("the kernel answered the dial after all; no hang to time out")
		}
		var ne net.Error
		if !errors.Is(r.err, ErrDialTimeout) || !errors.Is(r.err, os.ErrDeadlineExceeded) || !errors.As(r.err, &ne) || !ne.Timeout() {
			t.Errorf("OnClose cause %v, want ErrDialTimeout matching os.ErrDeadlineExceeded, a net.Error whose Timeout is true", r.err)
		}
	})
}

// Dialed connections carry data both ways over TCP on IPv4 and IPv6 and
// over a Unix socket: a Send made before the connect completes goes out
// first, then what OnOpen sends; the echo comes back intact and a local
// Close ends each with ErrLocalClose.
func TestDialEcho(t *testing.T) {
	forEachBackend(t, func(t *testing.T, cfg Config) {
		for _, tc := range []struct{ name, network, addr string }{
			{"tcp4", "tcp", "127.0.0.1:0"},
			{"tcp6", "tcp", "[::1]:0"},
			{"unix", "unix", ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				addr := tc.addr
				switch tc.name {
				case "tcp6":
					probe, err := net.Listen("tcp6", "[::1]:0")
					if err != nil {
						t.Skipf("no IPv6 loopback: %v", err)
					}
					probe.Close()
				case "unix":
					addr = filepath.Join(t.TempDir(), "echo.sock")
				}
				srv := serve(t, tc.network, addr, cfg, echoHandler{})
				target := srv.Addr().String()
				if tc.network == "unix" {
					target = addr
				}

				ccfg := cfg
				ccfg.Workers = 2
				const perWorker = 2
				n := ccfg.Workers * perWorker
				type state struct{ want, got []byte }
				problems := make(chan error, 4*n)
				report := func(err error) { // never blocks the worker
					select {
					case problems <- err:
					default:
					}
				}
				causes := make(chan error, n)
				startClient(t, ccfg, &hooks{
					start: func(w *Worker) {
						for k := range perWorker {
							c, err := w.Dial(tc.network, target, 30*time.Second)
							if err != nil {
								report(fmt.Errorf("worker %d: Dial: %w", w.ID(), err))
								continue
							}
							early := []byte(fmt.Sprintf("sent before connecting, worker %d conn %d;", w.ID(), k))
							c.SetValue(&state{want: early})
							if err := c.Send(early); err != nil {
								report(fmt.Errorf("Send before connecting: %w", err))
							}
						}
					},
					open: func(c Conn) {
						st := c.Value().(*state)
						r := rand.New(rand.NewPCG(c.ID(), uint64(c.Worker().ID())))
						more := make([]byte, 100<<10+r.IntN(100<<10))
						for i := range more {
							more[i] = byte(r.Uint32())
						}
						st.want = append(st.want, more...)
						if err := c.Send(more); err != nil {
							report(fmt.Errorf("Send from OnOpen: %w", err))
						}
					},
					data: func(c Conn, p []byte) int {
						st := c.Value().(*state)
						at := len(st.got)
						st.got = append(st.got, p...)
						if len(st.got) > len(st.want) {
							report(fmt.Errorf("%v: %d bytes echoed, %d sent", c, len(st.got), len(st.want)))
						} else if d := firstDiff(p, st.want[at:len(st.got)]); d >= 0 {
							report(fmt.Errorf("%v: echo differs from what was sent at byte %d", c, at+d))
						}
						if len(st.got) >= len(st.want) {
							c.Close()
						}
						return len(p)
					},
					closed: func(c Conn, err error) {
						if st, ok := c.Value().(*state); ok && !bytes.Equal(st.got, st.want) {
							report(fmt.Errorf("%v: closed after %d of %d echoed bytes", c, len(st.got), len(st.want)))
						}
						causes <- err
					},
				})
				guard := time.After(60 * time.Second)
				for range n {
					select {
					case err := <-causes:
						if !errors.Is(err, ErrLocalClose) {
							t.Errorf("OnClose cause %v, want ErrLocalClose", err)
						}
					case err := <-problems:
						t.Fatal(err)
					case <-guard:
						t.Fatal("dialed connections not all closed after 60s")
					}
				}
				for {
					select {
					case err := <-problems:
						t.Error(err)
					default:
						return
					}
				}
			})
		}
	})
}

// Dial refuses at once, without OnOpen or OnClose, an address with a host
// name or without a port, and a network it does not know.
func TestDialBadAddress(t *testing.T) {
	forEachBackend(t, func(t *testing.T, cfg Config) {
		cfg.Workers = 1
		type result struct {
			what string
			c    Conn
			err  error
		}
		results := make(chan []result, 1)
		callbacks := make(chan string, 8)
		srv := startClient(t, cfg, &hooks{
			start: func(w *Worker) {
				var rs []result
				for _, a := range [][2]string{
					{"tcp", "localhost:80"},
					{"tcp", "1.2.3.4"},
					{"udp", "127.0.0.1:80"},
					{"unix", ""},
				} {
					c, err := w.Dial(a[0], a[1], time.Second)
					rs = append(rs, result{a[0] + " " + a[1], c, err})
				}
				results <- rs
			},
			open:   func(c Conn) { callbacks <- "OnOpen" },
			closed: func(c Conn, err error) { callbacks <- fmt.Sprintf("OnClose(%v)", err) },
		})
		var rs []result
		select {
		case rs = <-results:
		case <-time.After(30 * time.Second):
			t.Fatal("OnStart did not report")
		}
		for _, r := range rs {
			if r.err == nil {
				t.Errorf("Dial(%s) succeeded", r.what)
			}
			if r.c != (Conn{}) {
				t.Errorf("Dial(%s) returned a non-zero Conn with its error", r.what)
			}
		}
		onWorker(t, srv, 0, func(*Worker) {}) // one more iteration for any stray callback
		select {
		case cb := <-callbacks:
			t.Errorf("%s ran after a refused Dial", cb)
		default:
		}
		if st := srv.Stats().Total(); st.Dialed != 0 || st.Conns != 0 {
			t.Errorf("Stats Dialed %d, Conns %d after refused dials: want 0", st.Dialed, st.Conns)
		}
	})
}
