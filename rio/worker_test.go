//go:build linux

package rio

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Server.Run runs a function on the worker asked for; Wakes from many
// goroutines lead to at least one and at most that many OnNotify calls, on
// that worker only; bad indexes are refused, and after Close Run fails with
// ErrServerClosed.
func TestRunAndNotify(t *testing.T) {
	forEachBackend(t, func(t *testing.T, cfg Config) {
		cfg.Workers = 2
		var notified [2]atomic.Int64
		srv := startClient(t, cfg, &hooks{notify: func(w *Worker) { notified[w.ID()].Add(1) }})

		for i := range 2 {
			var got int
			var owner *Server
			onWorker(t, srv, i, func(w *Worker) { got, owner = w.ID(), w.Server() })
			if got != i || owner != srv {
				t.Errorf("Run(%d) ran on worker %d of server %p, want worker %d of %p", i, got, owner, i, srv)
			}
		}
		for _, i := range []int{-1, 2} {
			if err := srv.Run(i, func(*Worker) { t.Errorf("function posted to worker %d ran", i) }); err == nil {
				t.Errorf("Run(%d) on 2 workers succeeded", i)
			}
			if _, err := srv.Waker(i); err == nil {
				t.Errorf("Waker(%d) on 2 workers succeeded", i)
			}
		}

		k, err := srv.Waker(0)
		if err != nil {
			t.Fatalf("Waker(0): %v", err)
		}
		const goroutines, perG = 10, 100
		var wg sync.WaitGroup
		for range goroutines {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range perG {
					k.Wake()
				}
			}()
		}
		wg.Wait()
		// A function posted after the wakes runs in an iteration that then
		// runs any OnNotify they asked for; one posted after that one has
		// run comes after that OnNotify.
		onWorker(t, srv, 0, func(*Worker) {})
		onWorker(t, srv, 0, func(*Worker) {})
		if n := notified[0].Load(); n < 1 || n > goroutines*perG {
			t.Errorf("worker 0: %d OnNotify calls after %d wakes, want 1 to %d", n, goroutines*perG, goroutines*perG)
		}
		onWorker(t, srv, 1, func(*Worker) {})
		if n := notified[1].Load(); n != 0 {
			t.Errorf("worker 1 got %d OnNotify calls; only worker 0 was woken", n)
		}

		if err := srv.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if err := srv.Run(0, func(*Worker) { t.Error("function posted after Close ran") }); !errors.Is(err, ErrServerClosed) {
			t.Errorf("Run after Close: err = %v, want ErrServerClosed", err)
		}
		k.Wake() // must neither panic nor block
	})
}

// With the worker busy, Run accepts exactly Config.PostQueue functions and
// then fails with ErrPostQueueFull; every accepted function runs once the
// worker is free again.
func TestPostQueueFull(t *testing.T) {
	forEachBackend(t, func(t *testing.T, cfg Config) {
		cfg.Workers = 1
		cfg.PostQueue = 2
		srv := startClient(t, cfg, &hooks{})
		busy, release := make(chan struct{}), make(chan struct{})
		if err := srv.Run(0, func(*Worker) {
			close(busy)
			<-release
		}); err != nil {
			t.Fatalf("Run: %v", err)
		}
		within(t, "blocking function starts", busy, 30*time.Second)

		var ran atomic.Int64
		accepted := 0
		var err error
		for accepted < 100 {
			if err = srv.Run(0, func(*Worker) { ran.Add(1) }); err != nil {
				break
			}
			accepted++
		}
		close(release)
		if !errors.Is(err, ErrPostQueueFull) {
			t.Fatalf("after %d posts: err = %v, want ErrPostQueueFull", accepted, err)
		}
		if accepted != cfg.PostQueue {
			t.Errorf("%d functions accepted while the worker was busy, want %d", accepted, cfg.PostQueue)
		}
		eventually(t, "accepted functions run", 30*time.Second, func() bool { return ran.Load() == int64(accepted) })
		onWorker(t, srv, 0, func(*Worker) {}) // the queue takes work again
		if n := ran.Load(); n != int64(accepted) {
			t.Errorf("%d functions ran, want %d", n, accepted)
		}
	})
}

// OnTick keeps running on every worker of a server that has nothing to do.
func TestOnTickRuns(t *testing.T) {
	forEachBackend(t, func(t *testing.T, cfg Config) {
		cfg.Workers = 2
		cfg.TickInterval = 10 * time.Millisecond
		var ticks [2]atomic.Int64
		serve(t, "tcp", "127.0.0.1:0", cfg, &hooks{tick: func(w *Worker) { ticks[w.ID()].Add(1) }})
		eventually(t, "10 ticks on each worker", 30*time.Second, func() bool {
			return ticks[0].Load() >= 10 && ticks[1].Load() >= 10
		})
	})
}

// After an echo exchange Stats counts the connection and exactly the bytes
// exchanged, names the backend, and Expvar renders the same as JSON.
func TestStatsExpvar(t *testing.T) {
	forEachBackend(t, func(t *testing.T, cfg Config) {
		cfg.Workers = 2
		srv := serve(t, "tcp", "127.0.0.1:0", cfg, echoHandler{})
		c, err := net.Dial("tcp", srv.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(30 * time.Second))
		msgs := randomMessages(rand.New(rand.NewPCG(5, 6)), 4, 64<<10)
		n := 0
		for _, m := range msgs {
			n += len(m)
		}
		err = echoClient(c, msgs)
		c.Close()
		if err != nil {
			t.Fatal(err)
		}
		// The server's close comes after its last send completed; Conns is
		// published once per loop iteration.
		eventually(t, "server closes the connection", 30*time.Second, func() bool {
			tot := srv.Stats().Total()
			return tot.Closed == 1 && tot.Conns == 0
		})

		st := srv.Stats()
		tot := st.Total()
		if st.Backend == "" || st.Backend != srv.Backend() {
			t.Errorf("Stats Backend %q, server Backend %q", st.Backend, srv.Backend())
		}
		if len(st.Workers) != 2 || tot.Worker != -1 {
			t.Errorf("Stats has %d workers, Total().Worker = %d", len(st.Workers), tot.Worker)
		}
		if tot.Accepted != 1 || tot.Conns != 0 {
			t.Errorf("Accepted %d, Conns %d: want 1 and 0", tot.Accepted, tot.Conns)
		}
		if tot.BytesIn != uint64(n) || tot.BytesOut != uint64(n) {
			t.Errorf("BytesIn %d, BytesOut %d: want %d each", tot.BytesIn, tot.BytesOut, n)
		}
		if tot.CallbackPanics != 0 || tot.UnknownTags != 0 {
			t.Errorf("CallbackPanics %d, UnknownTags %d: want 0", tot.CallbackPanics, tot.UnknownTags)
		}

		s := srv.Expvar().String()
		var decoded struct {
			Backend string
			Workers []WorkerStats
		}
		if err := json.Unmarshal([]byte(s), &decoded); err != nil {
			t.Fatalf("Expvar is not JSON: %v\n%s", err, s)
		}
		if !bytes.Contains([]byte(s), []byte(`"Workers"`)) || len(decoded.Workers) != 2 || decoded.Backend != st.Backend {
			t.Errorf("Expvar = %s", s)
		}
		var in uint64
		for _, w := range decoded.Workers {
			in += w.BytesIn
		}
		if in != uint64(n) {
			t.Errorf("Expvar BytesIn sums to %d, want %d", in, n)
		}
	})
}
