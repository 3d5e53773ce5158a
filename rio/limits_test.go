//go:build linux

package rio

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestConnLimit checks Config.MaxConns: with one worker and a limit of 4,
// four connections open (four OnOpen calls); the 5th and 6th are reset by
// the server at once (the client reads EOF or a reset) and counted as
// Rejected, without an OnOpen; after one of the four closes, a new
// connection is served again.
func TestConnLimit(t *testing.T) {
	forEachBackend(t, func(t *testing.T, cfg Config) {
		cfg.Workers, cfg.MaxConns = 1, 4
		var mu sync.Mutex
		opens, closes := 0, 0
		h := &hooks{
			open: func(c Conn) {
				mu.Lock()
				opens++
				mu.Unlock()
			},
			data: echoHandler{}.OnData,
			closed: func(c Conn, err error) {
				mu.Lock()
				closes++
				mu.Unlock()
			},
		}
		counts := func() (int, int) {
			mu.Lock()
			defer mu.Unlock()
			return opens, closes
		}
		srv := serve(t, "tcp", "127.0.0.1:0", cfg, h)

		var held []*net.TCPConn
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for range 4 {
			held = append(held, dialTCP(t, srv))
		}
		eventually(t, "4 OnOpen calls", 30*time.Second, func() bool { o, _ := counts(); return o >= 4 })
		for i, c := range held {
			if err := echoClient(c, [][]byte{[]byte(fmt.Sprintf("held %d", i))}); err != nil {
				t.Fatalf("held connection %d: %v", i, err)
			}
		}

		for i := 5; i <= 6; i++ {
			// The kernel completes the handshake; the worker resets it, which
			// may reach the client before its dial has returned.
			c, err := net.Dial("tcp", srv.Addr().String())
			if err != nil {
				if !errors.Is(err, syscall.ECONNRESET) {
					t.Errorf("connection %d over the limit: dial: %v; want success or a reset", i, err)
				}
				continue
			}
			c.Write([]byte("anyone there?"))
			n, err := c.Read(make([]byte, 64))
			c.Close()
			if n != 0 || !(errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)) {
				t.Errorf("connection %d over the limit: read %d bytes, %v; want EOF or a reset", i, n, err)
			}
		}
		eventually(t, "2 rejections counted", 30*time.Second, func() bool { return srv.Stats().Total().Rejected >= 2 })
		st := srv.Stats().Total()
		if st.Rejected != 2 || st.Accepted != 4 {
			t.Errorf("stats: rejected %d, accepted %d; want 2 and 4", st.Rejected, st.Accepted)
		}
		if o, c := counts(); o != 4 || c != 0 {
			t.Errorf("%d OnOpen and %d OnClose calls after the rejections, want 4 and 0", o, c)
		}

		held[0].Close()
		held = held[1:]
		eventually(t, "OnClose of the closed connection", 30*time.Second, func() bool { _, c := counts(); return c == 1 })
		c := dialTCP(t, srv)
		held = append(held, c)
		r := rand.New(rand.NewPCG(4, 4))
		if err := echoClient(c, randomMessages(r, 3, 64<<10)); err != nil {
			t.Errorf("new connection after one closed: %v", err)
		}
		if o, _ := counts(); o != 5 {
			t.Errorf("%d OnOpen calls, want 5", o)
		}
		if n := srv.Stats().Total().Rejected; n != 2 {
			t.Errorf("Rejected = %d after a connection within the limit, want 2", n)
		}
	})
}

// TestStaleHandle checks that a Conn kept past its OnClose is refused:
// Send, Close, CloseWrite and Abort return ErrStaleConn, Valid is false,
// Queued is 0, Value and the addresses are nil; and that stays so once a new
// connection took the same slot (MaxConns 1 forces the reuse), whose ID
// differs and which the old handle cannot touch.
func TestStaleHandle(t *testing.T) {
	forEachBackend(t, func(t *testing.T, cfg Config) {
		cfg.Workers, cfg.MaxConns = 1, 1
		opened := make(chan Conn, 2)
		closed := make(chan Conn, 2)
		h := &hooks{
			open:   func(c Conn) { opened <- c },
			data:   echoHandler{}.OnData,
			closed: func(c Conn, err error) { closed <- c },
		}
		srv := serve(t, "tcp", "127.0.0.1:0", cfg, h)
		recv := func(ch chan Conn, what string) Conn {
			t.Helper()
			select {
			case c := <-ch:
				return c
			case <-time.After(30 * time.Second):
				t.Fatalf("%s never ran", what)
				return Conn{}
			}
		}
		// checkStale runs on the worker.
		checkStale := func(old Conn, when string) {
			t.Helper()
			if old.Valid() {
				t.Errorf("%s: Valid() = true", when)
			}
			for name, err := range map[string]error{
				"Send":       old.Send([]byte("x")),
				"Close":      old.Close(),
				"CloseWrite": old.CloseWrite(),
				"Abort":      old.Abort(),
			} {
				if !errors.Is(err, ErrStaleConn) {
					t.Errorf("%s: %s on the old handle = %v, want ErrStaleConn", when, name, err)
				}
			}
			if q := old.Queued(); q != 0 {
				t.Errorf("%s: Queued() = %d, want 0", when, q)
			}
			if v := old.Value(); v != nil {
				t.Errorf("%s: Value() = %v, want nil", when, v)
			}
			if a := old.RemoteAddr(); a != nil {
				t.Errorf("%s: RemoteAddr() = %v, want nil", when, a)
			}
			if a := old.LocalAddr(); a != nil {
				t.Errorf("%s: LocalAddr() = %v, want nil", when, a)
			}
		}

		c1 := dialTCP(t, srv)
		defer c1.Close()
		old := recv(opened, "OnOpen")
		onWorker(t, srv, 0, func(*Worker) {
			if !old.Valid() {
				t.Error("Valid() = false on a live connection")
			}
			old.SetValue("first")
		})
		c1.Close()
		if c := recv(closed, "OnClose"); c != old {
			t.Fatalf("OnClose for %v, want %v", c, old)
		}
		onWorker(t, srv, 0, func(*Worker) { checkStale(old, "after OnClose") })

		c2 := dialTCP(t, srv)
		defer c2.Close()
		cur := recv(opened, "second OnOpen")
		if cur.ID()>>32 != old.ID()>>32 {
			t.Fatalf("new connection in slot %d, old was in %d: with MaxConns 1 the slot must be reused", cur.ID()>>32, old.ID()>>32)
		}
		if cur.ID() == old.ID() {
			t.Errorf("new connection has the old one's ID %#x", cur.ID())
		}
		onWorker(t, srv, 0, func(*Worker) {
			cur.SetValue("second")
			checkStale(old, "after the slot was reused")
			if !cur.Valid() {
				t.Error("the new connection's handle is not Valid after the old one was refused")
			}
			if v := cur.Value(); v != "second" {
				t.Errorf("new connection's Value() = %v, want \"second\"", v)
			}
		})
		if err := echoClient(c2, [][]byte{[]byte("still served")}); err != nil {
			t.Errorf("the new connection after calls on the old handle: %v", err)
		}
		select {
		case c := <-closed:
			t.Errorf("OnClose ran for %v: the stale handle's calls reached the new connection", c)
		default:
		}
	})
}

// TestConfigValidate checks that Validate accepts the zero Config and names
// the field of each out-of-range setting in its error, and that Listen
// refuses such a Config with the same error.
func TestConfigValidate(t *testing.T) {
	forEachBackend(t, func(t *testing.T, cfg Config) {
		if err := cfg.Validate(); err != nil {
			t.Fatalf("base Config: %v", err)
		}
		if err := (Config{}).Validate(); err != nil {
			t.Fatalf("zero Config: %v", err)
		}
		bad := []struct {
			field string
			set   func(*Config)
		}{
			{"Workers", func(c *Config) { c.Workers = -1 }},
			{"Workers", func(c *Config) { c.Workers = 1025 }},
			{"SQEntries", func(c *Config) { c.SQEntries = 3 }},
			{"SQEntries", func(c *Config) { c.SQEntries = 32768 }},
			{"SQEntries", func(c *Config) { c.SQEntries = -8 }},
			{"TickInterval", func(c *Config) { c.TickInterval = -time.Millisecond }},
			{"BufEntries", func(c *Config) { c.BufEntries = 100 }},
			{"BufEntries", func(c *Config) { c.BufEntries = 65536 }},
			{"BufSize", func(c *Config) { c.BufSize = 63 }},
			{"BufSize", func(c *Config) { c.BufSize = 1<<20 + 1 }},
			{"SendSlots", func(c *Config) { c.SendSlots = -1 }},
			{"SendSlots", func(c *Config) { c.SendSlots = 1<<20 + 1 }},
			{"SendSlotSize", func(c *Config) { c.SendSlotSize = 63 }},
			{"SendSlotSize", func(c *Config) { c.SendSlotSize = 1<<24 + 1 }},
			{"MaxConns", func(c *Config) { c.MaxConns = -1 }},
			{"MaxConns", func(c *Config) { c.MaxConns = maxSlot + 1 }},
			{"AccInitial", func(c *Config) { c.AccInitial = -1 }},
			{"AccInitial", func(c *Config) { c.AccCap, c.AccInitial = 1000, 1001 }},
			{"AccCap", func(c *Config) { c.AccCap = -1 }},
			{"TimerSlots", func(c *Config) { c.TimerSlots = -1 }},
			{"TimerSlots", func(c *Config) { c.TimerSlots = maxSlot + 1 }},
			{"PostQueue", func(c *Config) { c.PostQueue = -1 }},
			{"Backlog", func(c *Config) { c.Backlog = -1 }},
			{"CloseLinger", func(c *Config) { c.CloseLinger = -time.Second }},
		}
		for _, b := range bad {
			c := cfg
			b.set(&c)
			err := c.Validate()
			if err == nil {
				t.Errorf("%s: Validate accepted %+v", b.field, c)
				continue
			}
			if !strings.Contains(err.Error(), "Config."+b.field+" ") {
				t.Errorf("%s: Validate error %q does not name Config.%s", b.field, err, b.field)
			}
		}
		// Listen refuses a bad Config with Validate's error, leaving nothing
		// open (TestMain counts descriptors).
		c := cfg
		c.SQEntries = 3
		srv, err := Listen(context.Background(), "tcp", "127.0.0.1:0", c, NopHandler{})
		if err == nil {
			srv.Close()
			t.Fatal("Listen accepted Config.SQEntries = 3")
		}
		if !strings.Contains(err.Error(), "Config.SQEntries") {
			t.Errorf("Listen error %q does not name Config.SQEntries", err)
		}
	})
}

// TestGOMAXPROCSRaised checks that a server raises GOMAXPROCS to at least
// Workers+1, so a P stays free while the workers wait, and that
// KeepGOMAXPROCS leaves it alone.
func TestGOMAXPROCSRaised(t *testing.T) {
	prev := runtime.GOMAXPROCS(1)
	defer runtime.GOMAXPROCS(prev)
	srv := serve(t, "tcp", "127.0.0.1:0", Config{Workers: 3, Backend: BackendEpoll, KeepGOMAXPROCS: true}, echoHandler{})
	if got := runtime.GOMAXPROCS(0); got != 1 {
		t.Errorf("with KeepGOMAXPROCS, GOMAXPROCS = %d, want 1 left alone", got)
	}
	srv.Close()
	serve(t, "tcp", "127.0.0.1:0", Config{Workers: 3, Backend: BackendEpoll}, echoHandler{})
	if got := runtime.GOMAXPROCS(0); got != 4 {
		t.Errorf("GOMAXPROCS = %d after starting 3 workers, want 4", got)
	}
}
