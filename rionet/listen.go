//go:build linux

package rionet

import (
	"cmp"
	"context"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ringline-go/ringline/rio"
)

// Listener is a net.Listener whose connections rio workers serve.
// Closing it stops accepting only, as closing a net.TCPListener does: the
// Conns it accepted live on, and its workers end once the last is closed.
type Listener struct {
	srv    *rio.Server
	queue  chan *Conn    // opened by the workers, waiting for Accept
	closed chan struct{} // closed by Close, under mu

	mu    sync.Mutex
	live  int  // Conns queued or accepted and not yet closed on their worker
	ended bool // the workers were told to end
}

// acceptQueue is how many accepted connections wait for Accept.
const acceptQueue = 1024

// Listen starts cfg.Workers workers serving network ("tcp", "tcp4",
// "tcp6", "unix") at address and returns a net.Listener over them.
// Cancelling ctx ends the workers and every connection they hold.
func Listen(ctx context.Context, network, address string, cfg rio.Config) (*Listener, error) {
	l := &Listener{queue: make(chan *Conn, acceptQueue), closed: make(chan struct{})}
	srv, err := rio.Listen(ctx, network, address, cfg, &handler{ln: l, linger: closeLinger(cfg)})
	if err != nil {
		return nil, err
	}
	l.srv = srv
	return l, nil
}

// closeLinger is cfg's CloseLinger, or rio's default for none.
func closeLinger(cfg rio.Config) time.Duration {
	return cmp.Or(cfg.CloseLinger, rio.DefaultCloseLinger)
}

// Accept waits for the next connection.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case <-l.closed:
		return nil, l.opError("accept")
	default:
	}
	select {
	case c := <-l.queue:
		return c, nil
	case <-l.closed:
	case <-l.srv.Done():
	}
	return nil, l.opError("accept")
}

func (l *Listener) opError(op string) error {
	return &net.OpError{Op: op, Net: "tcp", Addr: l.srv.Addr(), Err: net.ErrClosed}
}

// Close stops accepting: pending and later Accepts fail with
// net.ErrClosed, and the connections no Accept took are reset, as the
// kernel resets those in a closed listener's backlog. The Conns Accept
// returned are served on; the workers end once every one of them is
// closed (at once when none is left).
func (l *Listener) Close() error {
	l.mu.Lock()
	select {
	case <-l.closed:
		l.mu.Unlock()
		return l.opError("close")
	default:
	}
	close(l.closed) // from now on the workers queue nothing (enqueue)
	l.mu.Unlock()
	l.srv.StopAccepting()
	for queued := true; queued; {
		select {
		case c := <-l.queue:
			c.shut(rio.Conn.Abort)
		default:
			queued = false
		}
	}
	if l.endIfIdle() {
		return l.srv.Close()
	}
	return nil
}

// enqueue counts a Conn a worker opened and queues it for Accept, unless
// the queue is full or the listener closed; on the worker.
func (l *Listener) enqueue(c *Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	select {
	case <-l.closed:
		return false
	default:
	}
	select {
	case l.queue <- c:
		l.live++
		return true
	default:
		return false
	}
}

// release counts a queued or accepted Conn closed on its worker, and ends
// the workers once the listener is closed and no Conn is left; on the
// worker, which cannot wait for itself to end.
func (l *Listener) release(srv *rio.Server) {
	l.mu.Lock()
	l.live--
	l.mu.Unlock()
	if l.endIfIdle() {
		go srv.Close()
	}
}

// endIfIdle reports, once, that the listener is closed and no Conn of
// it is left: it is time to end the workers.
func (l *Listener) endIfIdle() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	select {
	case <-l.closed:
	default:
		return false
	}
	if l.live > 0 || l.ended {
		return false
	}
	l.ended = true
	return true
}

// Addr returns the listening address.
func (l *Listener) Addr() net.Addr { return l.srv.Addr() }

// Server returns the rio server behind the listener (its stats, its
// backend).
func (l *Listener) Server() *rio.Server { return l.srv }

// Dialer opens connections from rio workers of its own.
type Dialer struct {
	srv  *rio.Server
	h    *handler
	next atomic.Uint32
}

// NewDialer starts cfg.Workers workers that dial; Close ends them.
func NewDialer(ctx context.Context, cfg rio.Config) (*Dialer, error) {
	h := &handler{linger: closeLinger(cfg)}
	srv, err := rio.StartClient(ctx, cfg, h)
	if err != nil {
		return nil, err
	}
	return &Dialer{srv: srv, h: h}, nil
}

// DialContext connects to address ("tcp", "tcp4", "tcp6" with a literal
// IP and port, or "unix") from one of the workers, in turn.
func (d *Dialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	w := int(d.next.Add(1)-1) % d.srv.Workers()
	timeout := time.Duration(0)
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
	}
	type dialed struct {
		c   *Conn
		err error
	}
	got := make(chan dialed, 1)
	err := post(d.srv, w, func(wk *rio.Worker) {
		rc, err := wk.Dial(network, address, timeout)
		if err != nil {
			got <- dialed{err: err}
			return
		}
		c := newConn(d.h, rc)
		rc.SetValue(c)
		got <- dialed{c: c}
	})
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: network, Err: err}
	}
	var r dialed
	select {
	case r = <-got:
	case <-d.srv.Done(): // the worker exited before it ran the dial
		return nil, &net.OpError{Op: "dial", Net: network, Err: net.ErrClosed}
	case <-ctx.Done():
		go func() { // the dial may still start: close what it makes
			select {
			case r := <-got:
				if r.c != nil {
					r.c.Close()
				}
			case <-d.srv.Done():
			}
		}()
		return nil, &net.OpError{Op: "dial", Net: network, Err: ctx.Err()}
	}
	if r.err != nil {
		return nil, &net.OpError{Op: "dial", Net: network, Err: r.err}
	}
	select { // OnOpen closes opened; OnClose without it: the dial failed
	case <-r.c.opened:
		return r.c, nil
	case <-r.c.gone:
		return nil, &net.OpError{Op: "dial", Net: network, Err: r.c.ended}
	case <-ctx.Done():
		r.c.Close()
		return nil, &net.OpError{Op: "dial", Net: network, Err: ctx.Err()}
	}
}

// Close ends the dialer's workers and their connections.
func (d *Dialer) Close() error { return d.srv.Close() }

var _ net.Listener = (*Listener)(nil)
