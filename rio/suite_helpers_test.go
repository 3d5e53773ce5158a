//go:build linux

package rio

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync"
	"testing"
	"time"
)

// backendCase is one backend the behavioural suite runs over.
type backendCase struct {
	name string
	cfg  Config // the base configuration selecting it
}

// forEachBackend runs f once per backend built into this binary, as a
// subtest named after it; it skips when there is none.
func forEachBackend(t *testing.T, f func(t *testing.T, cfg Config)) {
	t.Helper()
	cases := builtBackends()
	if len(cases) == 0 {
		t.Skip("no backend in this build (the io_uring backend needs cgo)")
	}
	for _, bc := range cases {
		t.Run(bc.name, func(t *testing.T) {
			if err := backendUsable(bc); err != nil {
				t.Skipf("%s unusable here: %v", bc.name, err)
			}
			f(t, bc.cfg)
		})
	}
}

// echoHandler sends back what it receives, as much as the send pool takes;
// the rest is offered again when slots are free.
type echoHandler struct{ NopHandler }

func (echoHandler) OnData(c Conn, data []byte) int {
	n, _ := c.SendSome(data)
	return n
}

// serve starts a server for the test and closes it at the end, failing the
// test if the close leaves anything behind.
func serve(t *testing.T, network, addr string, cfg Config, h Handler) *Server {
	t.Helper()
	if cfg.Workers == 0 {
		cfg.Workers = 2
	}
	srv, err := Listen(context.Background(), network, addr, cfg, h)
	if err != nil {
		t.Fatalf("Listen(%s, %s): %v", network, addr, err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return srv
}

// within fails the test if ch is not closed within d (a hang guard, not a
// timing assertion: d is far beyond what the work needs).
func within(t *testing.T, what string, ch <-chan struct{}, d time.Duration) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(d):
		t.Fatalf("%s: still not done after %v", what, d)
	}
}

// hooks is a Handler made of optional functions, one per callback; a nil
// one does nothing (OnData consumes everything). Shared by the suite.
type hooks struct {
	start  func(w *Worker)
	open   func(c Conn)
	data   func(c Conn, p []byte) int
	sent   func(c Conn, n int)
	closed func(c Conn, err error)
	tick   func(w *Worker)
	notify func(w *Worker)
}

func (h *hooks) OnStart(w *Worker) {
	if h.start != nil {
		h.start(w)
	}
}

func (h *hooks) OnOpen(c Conn) {
	if h.open != nil {
		h.open(c)
	}
}

func (h *hooks) OnData(c Conn, p []byte) int {
	if h.data != nil {
		return h.data(c, p)
	}
	return len(p)
}

func (h *hooks) OnSent(c Conn, n int) {
	if h.sent != nil {
		h.sent(c, n)
	}
}

func (h *hooks) OnClose(c Conn, err error) {
	if h.closed != nil {
		h.closed(c, err)
	}
}

func (h *hooks) OnTick(w *Worker) {
	if h.tick != nil {
		h.tick(w)
	}
}

func (h *hooks) OnNotify(w *Worker) {
	if h.notify != nil {
		h.notify(w)
	}
}

// startClient starts a client (workers with no listener) for the test and
// closes it at the end.
func startClient(t *testing.T, cfg Config, h Handler) *Server {
	t.Helper()
	srv, err := StartClient(context.Background(), cfg, h)
	if err != nil {
		t.Fatalf("StartClient: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return srv
}

// syncLog is a log destination safe for the workers' concurrent writes.
type syncLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *syncLog) logger() *slog.Logger { return slog.New(slog.NewTextHandler(l, nil)) }

// eventually polls cond until it holds, failing the test after d (a hang
// guard: d is far beyond what the work needs).
func eventually(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: still not true after %v", what, d)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// pieceEcho echoes data in Sends of at most 4 KiB and consumes what it
// sent: when the pool refuses a piece, the rest stays unconsumed and is
// offered again once sends complete.
func pieceEcho(c Conn, data []byte) int {
	n := 0
	for n < len(data) {
		k := min(len(data)-n, 4096)
		if c.Send(data[n:n+k]) != nil {
			break
		}
		n += k
	}
	return n
}

// onWorker runs fn on worker i of srv and waits for it to finish.
func onWorker(t *testing.T, srv *Server, i int, fn func(w *Worker)) {
	t.Helper()
	done := make(chan struct{})
	if err := srv.Run(i, func(w *Worker) {
		defer close(done)
		fn(w)
	}); err != nil {
		t.Fatalf("Run(%d): %v", i, err)
	}
	within(t, "function posted to the worker", done, 30*time.Second)
}

// dialTCP connects to srv with a hang-guard deadline on the connection.
func dialTCP(t *testing.T, srv *Server) *net.TCPConn {
	t.Helper()
	c, err := net.Dial("tcp", srv.Addr().String())
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	c.SetDeadline(time.Now().Add(60 * time.Second))
	return c.(*net.TCPConn)
}

// randomBytes returns n random bytes from seed.
func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed+1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// writeHalfCloseReadAll writes p on conn and half-closes it while reading
// everything the server sends until its EOF; it returns what was read, the
// read's error and the write's.
func writeHalfCloseReadAll(conn *net.TCPConn, p []byte) (got []byte, rerr, werr error) {
	wrote := make(chan error, 1)
	go func() {
		_, err := conn.Write(p)
		if err == nil {
			err = conn.CloseWrite()
		}
		wrote <- err
	}()
	got, rerr = io.ReadAll(conn)
	return got, rerr, <-wrote
}

// wantClose waits (up to a 30 s hang guard) for the cause OnClose sent on
// closed and checks that it matches want.
func wantClose(t *testing.T, closed <-chan error, want error) {
	t.Helper()
	select {
	case err := <-closed:
		if !errors.Is(err, want) {
			t.Errorf("OnClose cause %v, want %v", err, want)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("OnClose never ran")
	}
}

// backendUsable says whether bc can run here: epoll always can; io_uring
// when the runtime's own check sets a ring up.
func backendUsable(bc backendCase) error {
	if bc.cfg.Backend == BackendEpoll {
		return nil
	}
	return probeUsable()
}

// probeUsable says whether io_uring can run here, as Backend auto decides.
func probeUsable() error {
	_, err := uringSupport(Config{}.withDefaults())
	return err
}
