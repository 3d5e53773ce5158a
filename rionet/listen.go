//go:build linux

package rionet

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ringline-go/ringline/rio"
)

// handler is the rio Handler behind every adapter Conn: it moves bytes
// and events between the worker and the Conn's goroutines.
type handler struct {
	rio.NopHandler
	accepted chan *Conn // the Listener's queue; nil for a Dialer
}

func (h *handler) OnOpen(rc rio.Conn) {
	if c, ok := rc.Value().(*Conn); ok { // a dialed connection: Dial waits for it
		c.local, c.remote = rc.LocalAddr(), rc.RemoteAddr()
		close(c.opened)
		return
	}
	c := newConn(rc.Worker().Server(), rc.Worker().ID(), rc)
	c.local, c.remote = rc.LocalAddr(), rc.RemoteAddr()
	rc.SetValue(c)
	select {
	case h.accepted <- c:
	default: // no one accepts fast enough: refuse it, as a full backlog would
		rc.Abort()
	}
}

func (h *handler) OnData(rc rio.Conn, data []byte) int {
	rc.Value().(*Conn).received(data)
	return len(data)
}

func (h *handler) OnSent(rc rio.Conn, _ int) { signal(rc.Value().(*Conn).writable) }

// OnPeerEOF ends the Conn's input, as the peer's FIN ends a net.TCPConn's:
// Read returns io.EOF once the buffer is drained, and Write goes on until
// Close or CloseWrite.
func (h *handler) OnPeerEOF(rc rio.Conn) { rc.Value().(*Conn).inputEnded() }

func (h *handler) OnClose(rc rio.Conn, err error) {
	if c, ok := rc.Value().(*Conn); ok {
		c.end(err)
	}
}

// Listener is a net.Listener whose connections rio workers serve.
type Listener struct {
	srv    *rio.Server
	h      *handler
	closed chan struct{}
	once   sync.Once
}

// acceptQueue is how many accepted connections wait for Accept.
const acceptQueue = 1024

// Listen starts cfg.Workers workers serving network ("tcp", "tcp4",
// "tcp6", "unix") at address and returns a net.Listener over them.
// Closing the Listener closes its workers and every connection they hold.
func Listen(ctx context.Context, network, address string, cfg rio.Config) (*Listener, error) {
	h := &handler{accepted: make(chan *Conn, acceptQueue)}
	srv, err := rio.Listen(ctx, network, address, cfg, h)
	if err != nil {
		return nil, err
	}
	return &Listener{srv: srv, h: h, closed: make(chan struct{})}, nil
}

// Accept waits for the next connection.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case <-l.closed:
		return nil, &net.OpError{Op: "accept", Net: "tcp", Addr: l.srv.Addr(), Err: net.ErrClosed}
	default:
	}
	select {
	case c := <-l.h.accepted:
		return c, nil
	case <-l.closed:
	case <-l.srv.Done():
	}
	return nil, &net.OpError{Op: "accept", Net: "tcp", Addr: l.srv.Addr(), Err: net.ErrClosed}
}

// Close stops the listener and its workers, closing their connections.
func (l *Listener) Close() error {
	err := error(nil)
	l.once.Do(func() {
		close(l.closed)
		err = l.srv.Close()
	})
	return err
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
	h := &handler{}
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
	err := d.srv.Run(w, func(wk *rio.Worker) {
		rc, err := wk.Dial(network, address, timeout)
		if err != nil {
			got <- dialed{err: err}
			return
		}
		c := newConn(d.srv, w, rc)
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

var (
	_ net.Listener       = (*Listener)(nil)
	_ rio.PeerEOFHandler = (*handler)(nil)
)
