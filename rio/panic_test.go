//go:build linux

package rio

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// A panic in OnData closes only the connection it concerned, with a
// *PanicError matching ErrCallbackPanic; it is counted and logged, and the
// worker's other connections keep echoing.
func TestPanicClosesOnlyItsConn(t *testing.T) {
	forEachBackend(t, func(t *testing.T, cfg Config) {
		cfg.Workers = 1 // every connection on the worker that panicked
		logs := &syncLog{}
		cfg.Logger = logs.logger()
		causes := make(chan error, 8)
		srv := serve(t, "tcp", "127.0.0.1:0", cfg, &hooks{
			data: func(c Conn, p []byte) int {
				if bytes.HasPrefix(p, []byte("boom")) {
					panic("boom in OnData")
				}
				return echoHandler{}.OnData(c, p)
			},
			closed: func(c Conn, err error) { causes <- err },
		})
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for i := range 3 {
			c, err := net.Dial("tcp", srv.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			conns = append(conns, c)
			c.SetDeadline(time.Now().Add(30 * time.Second))
			if err := echoClient(c, [][]byte{[]byte(fmt.Sprintf("hello from %d", i))}); err != nil {
				t.Fatalf("conn %d before the panic: %v", i, err)
			}
		}

		if _, err := conns[1].Write([]byte("boom!")); err != nil {
			t.Fatal(err)
		}
		var buf [64]byte
		n, err := conns[1].Read(buf[:])
		if n != 0 || (err != io.EOF && !errors.Is(err, syscall.ECONNRESET)) {
			t.Errorf("read on the connection that panicked: %d bytes, %v; want EOF or a reset", n, err)
		}

		var cause error
		select {
		case cause = <-causes:
		case <-time.After(30 * time.Second):
			t.Fatal("no OnClose after the panic")
		}
		var pe *PanicError
		if !errors.Is(cause, ErrCallbackPanic) || !errors.As(cause, &pe) {
			t.Fatalf("OnClose cause %v (%T), want a *PanicError matching ErrCallbackPanic", cause, cause)
		}
		if pe.Callback != "OnData" || pe.Value != "boom in OnData" {
			t.Errorf("PanicError{Callback: %q, Value: %v}, want OnData and the panic value", pe.Callback, pe.Value)
		}

		for _, i := range []int{0, 2} {
			if err := echoClient(conns[i], [][]byte{[]byte("still here"), bytes.Repeat([]byte{byte(i)}, 100<<10)}); err != nil {
				t.Errorf("conn %d after the panic: %v", i, err)
			}
		}
		select {
		case err := <-causes:
			t.Errorf("another connection closed: %v", err)
		default:
		}
		if n := srv.Stats().Total().CallbackPanics; n != 1 {
			t.Errorf("CallbackPanics = %d, want 1", n)
		}
		if s := logs.String(); !strings.Contains(s, "callback panicked") || !strings.Contains(s, "callback=OnData") || !strings.Contains(s, "boom in OnData") {
			t.Errorf("the panic was not logged; log:\n%s", s)
		}
	})
}

// A panic in OnTick, in a timer's function or in a function given to
// Server.Run is counted and logged, and nothing else: the worker keeps its
// connections and goes on serving.
func TestPanicInWorkerFuncs(t *testing.T) {
	forEachBackend(t, func(t *testing.T, cfg Config) {
		cfg.Workers = 1
		logs := &syncLog{}
		cfg.Logger = logs.logger()
		var tickPanic atomic.Bool
		tickPanicked := make(chan struct{})
		srv := serve(t, "tcp", "127.0.0.1:0", cfg, &hooks{
			data: echoHandler{}.OnData,
			tick: func(*Worker) {
				if tickPanic.CompareAndSwap(true, false) {
					close(tickPanicked)
					panic("boom in OnTick")
				}
			},
		})
		c, err := net.Dial("tcp", srv.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(30 * time.Second))
		if err := echoClient(c, [][]byte{[]byte("before")}); err != nil {
			t.Fatal(err)
		}
		panics := func() uint64 { return srv.Stats().Total().CallbackPanics }

		// Server.Run: functions run in order, so once the next one has run
		// the panic has been handled.
		if err := srv.Run(0, func(*Worker) { panic("boom in Run") }); err != nil {
			t.Fatal(err)
		}
		onWorker(t, srv, 0, func(*Worker) {})
		if n := panics(); n != 1 {
			t.Errorf("after a panicking Run function: CallbackPanics = %d, want 1", n)
		}

		// A timer: a later one runs after it.
		timerDone := make(chan struct{})
		onWorker(t, srv, 0, func(w *Worker) {
			if _, err := w.AfterFunc(time.Millisecond, func() { panic("boom in timer") }); err != nil {
				t.Error(err)
			}
			if _, err := w.AfterFunc(30*time.Millisecond, func() { close(timerDone) }); err != nil {
				t.Error(err)
			}
		})
		within(t, "timer after the panicking one", timerDone, 30*time.Second)
		if n := panics(); n != 2 {
			t.Errorf("after a panicking timer: CallbackPanics = %d, want 2", n)
		}

		// OnTick: a function posted once it has begun runs in a later
		// iteration, after the panic was handled.
		tickPanic.Store(true)
		within(t, "panicking OnTick", tickPanicked, 30*time.Second)
		onWorker(t, srv, 0, func(*Worker) {})
		if n := panics(); n != 3 {
			t.Errorf("after a panicking OnTick: CallbackPanics = %d, want 3", n)
		}

		if err := echoClient(c, [][]byte{[]byte("after")}); err != nil {
			t.Errorf("the connection open through the panics: %v", err)
		}
		c2, err := net.Dial("tcp", srv.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c2.Close()
		c2.SetDeadline(time.Now().Add(30 * time.Second))
		if err := echoClient(c2, [][]byte{[]byte("new connection")}); err != nil {
			t.Errorf("a connection made after the panics: %v", err)
		}
		if st := srv.Stats().Total(); st.Closed != 0 || st.CallbackPanics != 3 {
			t.Errorf("Closed %d, CallbackPanics %d: want 0 and 3", st.Closed, st.CallbackPanics)
		}
		s := logs.String()
		for _, want := range []string{"boom in Run", "boom in timer", "boom in OnTick", "callback=OnTick", "callback=timer", `callback="posted function"`} {
			if !strings.Contains(s, want) {
				t.Errorf("log lacks %q; log:\n%s", want, s)
			}
		}
	})
}
