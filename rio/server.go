//go:build linux

package rio

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// Server is a set of workers: serving a listener (Listen) or only dialing
// (StartClient). Its methods are safe for concurrent use.
type Server struct {
	cfg        Config
	h          Handler
	ep         endpoint // the listener's address; zero for a client
	addr       net.Addr
	unixPath   string // a Unix socket file to remove at the end
	backend    string // the engine chosen, and why
	reason     string
	newBackend newBackendFunc
	workers    []*Worker

	running  atomic.Int32  // workers still looping
	fileTurn atomic.Uint32 // the worker the next file or path operation goes to
	done     chan struct{}

	accepting   atomic.Int32  // workers that have not yet acted on a stop (and may accept)
	acceptEnded chan struct{} // closed when accepting reaches 0
}

// Listen starts cfg.Workers workers serving network ("tcp", "tcp4",
// "tcp6" with a literal IP and port, or "unix" with a path) at address, with
// h's callbacks. It returns once every worker is ready, or the first error
// (address in use, io_uring refused, descriptor limit) with nothing left
// behind. Port 0 picks a free port; Addr tells which. Cancelling ctx starts
// a graceful Shutdown.
func Listen(ctx context.Context, network, address string, cfg Config, h Handler) (*Server, error) {
	ep, err := parseEndpoint(network, address)
	if err != nil {
		return nil, err
	}
	if ep.network == "udp" {
		return nil, fmt.Errorf("rio: Listen: network %q: datagrams are served by ListenUDP", network)
	}
	return start(ctx, &ep, cfg, h)
}

// StartClient starts cfg.Workers workers with no listener: each opens its
// connections with Worker.Dial from OnStart (or from Server.Run). Cancelling
// ctx starts a graceful Shutdown.
func StartClient(ctx context.Context, cfg Config, h Handler) (*Server, error) {
	return start(ctx, nil, cfg, h)
}

func start(ctx context.Context, ep *endpoint, cfg Config, h Handler) (*Server, error) {
	if h == nil {
		return nil, errors.New("rio: nil Handler")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	maxConnsSet := cfg.MaxConns != 0
	cfg = cfg.withDefaults()
	if p := runtime.GOMAXPROCS(0); !cfg.KeepGOMAXPROCS && p < cfg.Workers+1 {
		runtime.GOMAXPROCS(cfg.Workers + 1)
		if cfg.Logger != nil {
			cfg.Logger.Info("rio: raised GOMAXPROCS so that a P is free while the workers wait", "from", p, "to", cfg.Workers+1)
		}
	}
	name, newBackend, reason, err := selectBackend(cfg)
	if err != nil {
		return nil, err
	}
	allowed, err := raiseFileLimit(cfg.Workers*(cfg.MaxConns+4), maxConnsSet)
	if err != nil {
		return nil, err
	}
	if !maxConnsSet {
		cfg.MaxConns = max(1, min(cfg.MaxConns, allowed/cfg.Workers-4))
	}
	s, err := launch(ep, cfg, h, name, newBackend, reason)
	if err != nil && cfg.Backend == BackendAuto && name == "io_uring" {
		// The probe's small ring worked but a worker's full one did not
		// (RLIMIT_MEMLOCK, most likely): auto falls back all the same.
		name, newBackend, reason = epollFallback(cfg, fmt.Errorf("a worker's ring could not be set up: %w", err))
		s, err = launch(ep, cfg, h, name, newBackend, reason)
	}
	if err != nil {
		return nil, err
	}
	if cfg.Backend == BackendAuto && s.backend == "epoll" && cfg.Logger != nil {
		cfg.Logger.Warn("rio: backend auto chose epoll", "reason", s.reason)
	}
	if cfg.Logger != nil {
		cfg.Logger.Info("rio: started", "backend", s.backend, "why", s.reason, "workers", cfg.Workers, "addr", s.addr)
	}
	go func() {
		select {
		case <-ctx.Done():
			s.requestStop(stopGraceful)
		case <-s.done:
		}
	}()
	return s, nil
}

// launch opens the listeners (ep nil: none) and starts the workers on the
// chosen backend; on failure nothing is left behind.
func launch(ep *endpoint, cfg Config, h Handler, name string, newBackend newBackendFunc, reason string) (*Server, error) {
	s := &Server{cfg: cfg, h: h, done: make(chan struct{}), acceptEnded: make(chan struct{}),
		backend: name, newBackend: newBackend, reason: reason}
	fds := make([]int, cfg.Workers)
	for i := range fds {
		fds[i] = -1
	}
	if ep != nil {
		s.ep = *ep
		if err := s.listenAll(fds); err != nil {
			closeFds(fds)
			return nil, err
		}
	}
	if err := s.startWorkers(fds); err != nil {
		return nil, err
	}
	return s, nil
}

// listenAll opens one listener per worker: SO_REUSEPORT listeners on one
// port for TCP (the first picks the port when it is 0), one Unix listener
// duplicated for each worker.
func (s *Server) listenAll(fds []int) error {
	open := func() (int, error) { return listen(s.ep, s.cfg.Backlog, s.cfg.Nagle) }
	if s.ep.network == "udp" {
		open = func() (int, error) { return udpSocket(s.ep, s.cfg.UDPGRO) }
	}
	fd, err := open()
	if err != nil {
		return err
	}
	fds[0] = fd
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return fmt.Errorf("rio: getsockname: %w", err)
	}
	s.addr = sockaddrToAddr(sa)
	if s.ep.network == "udp" {
		s.addr = udpAddr(sa)
	}
	if s.ep.family == unix.AF_UNIX {
		s.unixPath = s.ep.sa.(*unix.SockaddrUnix).Name
	} else {
		s.ep.sa = sa // the port the first listener got
	}
	for i := 1; i < len(fds); i++ {
		if s.ep.family == unix.AF_UNIX {
			fds[i], err = unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
		} else {
			fds[i], err = open()
		}
		if err != nil {
			if s.unixPath != "" {
				unix.Unlink(s.unixPath)
			}
			return err
		}
	}
	return nil
}

// startWorkers creates the workers and starts their threads, each given its
// listener; on any failure every worker already running is closed.
func (s *Server) startWorkers(fds []int) error {
	for i := range fds {
		w, err := newWorker(s, i, fds[i])
		if err != nil {
			closeFds(fds[i:])
			s.abortStart()
			return err
		}
		s.workers = append(s.workers, w)
	}
	ready := make(chan error, len(s.workers))
	s.running.Store(int32(len(s.workers)))
	s.accepting.Store(int32(len(s.workers)))
	for _, w := range s.workers {
		go w.run(ready)
	}
	var first error
	for range s.workers {
		if err := <-ready; err != nil && first == nil {
			first = err
		}
	}
	if first != nil {
		s.requestStop(stopNow)
		<-s.done
		return first
	}
	return nil
}

// abortStart releases workers created but never started.
func (s *Server) abortStart() {
	for _, w := range s.workers {
		closeFds([]int{w.listenFd})
		w.release()
	}
	if s.unixPath != "" {
		unix.Unlink(s.unixPath)
	}
}

func closeFds(fds []int) {
	for _, fd := range fds {
		if fd >= 0 {
			unix.Close(fd)
		}
	}
}

// workerDone is called by each worker as its goroutine ends.
func (s *Server) workerDone(w *Worker) {
	if s.running.Add(-1) == 0 {
		if s.unixPath != "" {
			unix.Unlink(s.unixPath)
		}
		close(s.done)
	}
}

// workerStopped is called by each worker when it first acts on a stop:
// from then on it opens no accepted connection.
func (s *Server) workerStopped() {
	if s.accepting.Add(-1) == 0 {
		close(s.acceptEnded)
	}
}

// Stop levels, in increasing force.
const (
	stopAccept   = 1 // the listener only (StopAccepting)
	stopGraceful = 2
	stopNow      = 3
)

// requestStop asks every worker to stop, at level or harder.
func (s *Server) requestStop(level int32) {
	for _, w := range s.workers {
		for {
			cur := w.stopReq.Load()
			if cur >= level || w.stopReq.CompareAndSwap(cur, level) {
				break
			}
		}
		w.posts.wake()
	}
}

// Addr returns the listener's address (the port chosen when it was 0), or
// nil for a client.
func (s *Server) Addr() net.Addr { return s.addr }

// Backend names the I/O engine the workers use: "io_uring" or "epoll".
func (s *Server) Backend() string { return s.backend }

// BackendReason says why that engine was chosen (with auto, why io_uring
// could not run when the choice is epoll).
func (s *Server) BackendReason() string { return s.reason }

// Workers returns the number of workers.
func (s *Server) Workers() int { return len(s.workers) }

// StopAccepting closes the listeners and leaves the workers serving the
// connections they hold, as closing a net.Listener leaves the connections
// it accepted. It returns once every worker has stopped accepting: from
// then on OnOpen runs for no accepted connection (one the kernel completed
// meanwhile is closed unopened, those in the kernel's backlog are reset),
// while the open ones are served until they close; Shutdown or Close ends
// the workers. A client has nothing to stop. A ListenUDP server's socket
// carries its datagrams: StopAccepting refuses it with an error, and
// Shutdown ends it. Like Shutdown, not from a Handler method: the worker
// would wait for itself.
func (s *Server) StopAccepting() error {
	if s.ep.network == "udp" {
		return errors.New("rio: StopAccepting: a datagram server's only listener is its socket; Shutdown ends it")
	}
	s.requestStop(stopAccept)
	select {
	case <-s.acceptEnded:
	case <-s.done:
	}
	return nil
}

// Shutdown stops accepting, closes every connection gracefully (queued sends
// drain, FIN, the peer's FIN awaited up to Config.CloseLinger) and waits for
// the workers to finish. If ctx ends first it closes at once (Close) and
// returns ctx's error. Not from a Handler method: the worker would wait
// for itself; call it from another goroutine.
func (s *Server) Shutdown(ctx context.Context) error {
	s.requestStop(stopGraceful)
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
		s.Close()
		return ctx.Err()
	}
}

// Close stops at once: every connection is closed without draining its
// queued sends, and Close returns when the workers have released
// everything (descriptors, rings, memory). Like Shutdown, not from a
// Handler method.
func (s *Server) Close() error {
	s.requestStop(stopNow)
	<-s.done
	return nil
}

// Done is closed when every worker has finished.
func (s *Server) Done() <-chan struct{} { return s.done }

// Wait blocks until every worker has finished.
func (s *Server) Wait() { <-s.done }

// Run queues fn to run on worker i, from any goroutine. It fails with
// ErrPostQueueFull when Config.PostQueue functions are already waiting, and
// with ErrServerClosed once the worker has stopped; functions still queued
// when a worker stops are dropped without running.
func (s *Server) Run(i int, fn func(*Worker)) error {
	if i < 0 || i >= len(s.workers) {
		return fmt.Errorf("rio: Run: worker %d of %d", i, len(s.workers))
	}
	return s.workers[i].posts.post(fn)
}

// Waker returns a handle that fires worker i's OnNotify from any goroutine.
func (s *Server) Waker(i int) (Waker, error) {
	if i < 0 || i >= len(s.workers) {
		return Waker{}, fmt.Errorf("rio: Waker: worker %d of %d", i, len(s.workers))
	}
	return Waker{&s.workers[i].posts}, nil
}

// Stats returns a snapshot of every worker's counters.
func (s *Server) Stats() Stats {
	st := Stats{Backend: s.backend, Workers: make([]WorkerStats, len(s.workers))}
	for i, w := range s.workers {
		st.Workers[i] = w.snapshot()
	}
	return st
}
