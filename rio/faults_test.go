//go:build linux

package rio

import (
	"errors"
	"math/rand/v2"
	"net"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/ringline-go/ringline/internal/backend"
)

// faultBackend wraps a worker's real engine and answers some of its
// operations with injected completions instead, so the worker's real
// dispatch meets the kernel's error and partial results on demand.
type faultBackend struct {
	backend.Backend
	plan *faultPlan
}

// faultPlan says which operations are answered with a fault; each counter
// is how many are left to answer so.
type faultPlan struct {
	enobufs atomic.Int32 // receives answered with -ENOBUFS (no data taken)
	short   atomic.Int32 // sends that send only half their first segment, for real
	reset   atomic.Int32 // sends answered with -ECONNRESET
}

func (b faultBackend) Recv(fd int, ud uint64) error {
	if b.plan.enobufs.Add(-1) >= 0 {
		return b.Inject(ud, -int32(syscall.ENOBUFS))
	}
	return b.Backend.Recv(fd, ud)
}

func (b faultBackend) SendMsg(fd int, msg *unix.Msghdr, ud uint64) error {
	if b.plan.reset.Add(-1) >= 0 {
		return b.Inject(ud, -int32(syscall.ECONNRESET))
	}
	if b.plan.short.Add(-1) >= 0 {
		first := unsafe.Slice(msg.Iov, msg.Iovlen)[0]
		half := unsafe.Slice(first.Base, first.Len)[:max(first.Len/2, 1)]
		n, err := unix.SendmsgBuffers(fd, [][]byte{half}, nil, nil, unix.MSG_NOSIGNAL|unix.MSG_DONTWAIT)
		if errno, ok := err.(syscall.Errno); ok {
			return b.Inject(ud, -int32(errno))
		}
		return b.Inject(ud, int32(n))
	}
	return b.Backend.SendMsg(fd, msg, ud)
}

// TestFaultMatrix drives the worker through faults injected as completions
// (IORING_NOP_INJECT_RESULT on io_uring, a queued completion on epoll):
// receives finding the buffer pool empty, short sends, a reset mid-send,
// each also with a send pool and a send budget small enough to run out.
// Every echo that is not reset must come back whole and in order; a reset
// closes only its own connection, with a write error matching ECONNRESET.
func TestFaultMatrix(t *testing.T) {
	type fault struct {
		name                  string
		enobufs, short, reset int32
	}
	faults := []fault{
		{name: "ENOBUFS", enobufs: 20},
		{name: "short sends", short: 40},
		{name: "reset mid-send", reset: 1},
	}
	limits := []struct {
		name string
		set  func(*Config)
	}{
		{"roomy", func(*Config) {}},
		{"pool exhausted", func(c *Config) { c.SendSlots, c.SendSlotSize, c.SendBudget = 4, 1024, 4096 }},
		{"budget exhausted", func(c *Config) { c.SendBudget = 2048 }},
	}
	for _, f := range faults {
		for _, lim := range limits {
			t.Run(f.name+"/"+lim.name, func(t *testing.T) {
				forEachBackend(t, func(t *testing.T, cfg Config) {
					cfg.Workers = 1
					cfg.TickInterval = 10 * time.Millisecond // a receive starved by an injected ENOBUFS is re-armed a tick later
					lim.set(&cfg)
					plan := &faultPlan{}
					testHookBackend = func(b backend.Backend) (backend.Backend, error) { return faultBackend{b, plan}, nil }
					defer func() { testHookBackend = nil }()
					closes := make(chan error, 8)
					srv := serve(t, "tcp", "127.0.0.1:0", cfg, &hooks{
						data:   echoHandler{}.OnData,
						closed: func(c Conn, err error) { closes <- err },
					})
					requireInject(t, srv)
					plan.enobufs.Store(f.enobufs)
					plan.short.Store(f.short)
					plan.reset.Store(f.reset)
					runFaultEcho(t, srv, f.reset > 0, closes)
					st := srv.Stats().Total()
					if f.enobufs > 0 && st.ENOBUFS < uint64(f.enobufs) {
						t.Errorf("ENOBUFS = %d, want the %d injected", st.ENOBUFS, f.enobufs)
					}
					if f.short > 0 && plan.short.Load() >= f.short {
						t.Error("no send was cut short")
					}
					switch {
					case f.reset > 0:
					case lim.name == "pool exhausted" && st.SendPoolExhausted == 0:
						t.Error("the send pool never ran out")
					case lim.name == "budget exhausted" && st.SendBudgetExhausted == 0:
						t.Error("the send budget never ran out")
					}
				})
			})
		}
	}
}

// runFaultEcho echoes 64 KiB in pieces over one connection. With reset,
// the connection must instead close with a write error matching
// ECONNRESET, and a second connection must then echo normally.
func runFaultEcho(t *testing.T, srv *Server, reset bool, closes <-chan error) {
	t.Helper()
	r := rand.New(rand.NewPCG(7, 7))
	conn, err := net.Dial("tcp", srv.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(60 * time.Second))
	err = echoClient(conn, randomMessages(r, 16, 8<<10))
	if !reset {
		if err != nil {
			t.Fatal(err)
		}
		return
	}
	var op *net.OpError
	select {
	case cause := <-closes:
		if !errors.Is(cause, syscall.ECONNRESET) || !errors.As(cause, &op) || op.Op != "write" {
			t.Errorf("OnClose after the injected reset: %v, want a write *net.OpError matching ECONNRESET", cause)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("the reset connection never closed")
	}
	next, err := net.Dial("tcp", srv.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer next.Close()
	next.SetDeadline(time.Now().Add(60 * time.Second))
	if err := echoClient(next, randomMessages(r, 4, 8<<10)); err != nil {
		t.Errorf("a new connection after the reset: %v", err)
	}
}
