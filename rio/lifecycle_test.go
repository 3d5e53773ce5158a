//go:build linux

package rio

import (
	"context"
	"net"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ringline-go/ringline/internal/leakcheck"
)

// TestServerLeavesNothing counts descriptors, goroutines and io_uring
// mappings before a server starts and after it closed with connections
// open; the counts must match.
func TestServerLeavesNothing(t *testing.T) {
	forEachBackend(t, func(t *testing.T, cfg Config) {
		fds, gos := leakcheck.Fds(), runtime.NumGoroutine()
		cfg.Workers = 2
		srv, err := Listen(context.Background(), "tcp", "127.0.0.1:0", cfg, echoHandler{})
		if err != nil {
			t.Fatal(err)
		}
		var conns []net.Conn
		for range 8 {
			c, err := net.Dial("tcp", srv.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			c.SetDeadline(time.Now().Add(30 * time.Second))
			if err := echoClient(c, [][]byte{[]byte("ping")}); err != nil {
				t.Error(err)
			}
			conns = append(conns, c)
		}
		srv.Close()
		for _, c := range conns {
			c.Close()
		}
		var left string
		for range 100 { // let the netpoller and finished goroutines settle
			left = ""
			if n := leakcheck.Fds(); n != fds {
				left += " descriptors " + itoa(n) + " (before " + itoa(fds) + ")"
			}
			if n := runtime.NumGoroutine(); n > gos {
				left += " goroutines " + itoa(n) + " (before " + itoa(gos) + ")"
			}
			if f, m := leakcheck.IOURing(); f+m > 0 {
				left += " io_uring fds/maps " + itoa(f) + "/" + itoa(m)
			}
			if left == "" {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if left != "" {
			t.Errorf("after Close:%s", left)
		}
	})
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestFileLimitError checks that a configuration needing more descriptors
// than RLIMIT_NOFILE's hard limit is refused at start, saying by how much.
func TestFileLimitError(t *testing.T) {
	forEachBackend(t, func(t *testing.T, cfg Config) {
		cfg.Workers, cfg.MaxConns = 2, 1<<23
		_, err := Listen(context.Background(), "tcp", "127.0.0.1:0", cfg, echoHandler{})
		if err == nil || !strings.Contains(err.Error(), "RLIMIT_NOFILE") || !strings.Contains(err.Error(), "short by") {
			t.Fatalf("Listen with MaxConns %d: %v, want an RLIMIT_NOFILE error saying how far short", cfg.MaxConns, err)
		}
	})
}
