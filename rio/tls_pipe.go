//go:build linux

package rio

import (
	"fmt"
	"net"
	"sync"
	"time"
)

// tlsPipe is the net.Conn that crypto/tls reads a TLS connection's records
// from and writes them to. The worker feeds it what the socket received and
// takes what crypto/tls wrote into its send pool; the pipe itself does no
// I/O. During the handshake, which runs on a goroutine of its own, Read
// waits for input and Write keeps records for the worker to take; after
// it, crypto/tls runs on the worker, Read answers at once (errWouldBlock
// when no input is left) and Write hands each record straight to the send
// pool through sink.
type tlsPipe struct {
	mu    sync.Mutex
	cond  sync.Cond // signalled when input arrives or the pipe closes
	in    []byte    // received, not yet read by crypto/tls: in[head:]
	head  int
	lent  []byte // after the handshake, during a pump: a receive buffer read in place, after in
	out   []byte // during the handshake: written by crypto/tls, not yet taken by the worker
	spare []byte // the out buffer the worker took last, handed back
	// after the handshake, set by the worker and called on it: queues a
	// record in the send pool, false when the pool cannot take it whole
	sink   func([]byte) bool
	wait   bool // Read waits for input: the handshake is running
	closed bool
	ended  error // the input's end (the peer's FIN, io.EOF, or a receive error), once in is read
	hsErr  error // how the handshake ended, once wait is false

	local, remote net.Addr
	notify        func() // tells the worker to look at the pipe (from the handshake goroutine)
}

func newTLSPipe(local, remote net.Addr, notify func()) *tlsPipe {
	p := &tlsPipe{wait: true, local: local, remote: remote, notify: notify}
	p.cond.L = &p.mu
	return p
}

// errWouldBlock is what Read returns after the handshake when no input is
// left: crypto/tls keeps a partial record it has read and reports a
// temporary net.Error to its caller without failing the connection, so the
// worker calls Read again when more arrives.
var errWouldBlock error = wouldBlock{}

type wouldBlock struct{}

func (wouldBlock) Error() string   { return "rio: no TLS input yet" }
func (wouldBlock) Timeout() bool   { return false }
func (wouldBlock) Temporary() bool { return true }

// Read hands crypto/tls the input received so far.
func (p *tlsPipe) Read(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for {
		switch {
		case p.closed:
			return 0, net.ErrClosed
		case p.head < len(p.in):
			n := copy(b, p.in[p.head:])
			p.head += n
			if p.head == len(p.in) {
				p.in, p.head = p.in[:0], 0
				if cap(p.in) > tlsKeptInput {
					p.in = nil // the handshake's or a pause's backlog: let it go
				}
			}
			return n, nil
		case len(p.lent) > 0:
			n := copy(b, p.lent)
			p.lent = p.lent[n:]
			return n, nil
		case p.ended != nil:
			return 0, p.ended
		case !p.wait:
			return 0, errWouldBlock
		}
		p.cond.Wait()
	}
}

// errTLSPoolFull is what Write returns after the handshake when the send
// pool cannot take a record whole; crypto/tls then fails the connection's
// writes for good.
var errTLSPoolFull = fmt.Errorf("%w for a TLS record", ErrSendPoolExhausted)

// Write queues what crypto/tls wrote: after the handshake straight into
// the send pool (only the worker writes then, so no lock is taken); during
// it, kept for the worker, which it tells.
func (p *tlsPipe) Write(b []byte) (int, error) {
	if p.sink != nil {
		if !p.sink(b) {
			return 0, errTLSPoolFull
		}
		return len(b), nil
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return 0, net.ErrClosed
	}
	p.out = append(p.out, b...)
	tell := p.wait
	p.mu.Unlock()
	if tell {
		p.notify()
	}
	return len(b), nil
}

// Close ends the pipe: a waiting or later Read or Write fails. crypto/tls
// calls it when the handshake's context ends; the worker when the
// connection closes.
func (p *tlsPipe) Close() error {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.cond.Broadcast()
	return nil
}

// feed appends received bytes and returns how many wait unread.
func (p *tlsPipe) feed(b []byte) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.in = append(p.in, b...)
	p.cond.Signal()
	return len(p.in) - p.head
}

// end records the end of the input, which Read returns after it.
func (p *tlsPipe) end(err error) {
	p.mu.Lock()
	p.ended = err
	p.mu.Unlock()
	p.cond.Broadcast()
}

// lend hands crypto/tls a receive buffer to read in place, saving the copy
// into in; the worker calls keep before the buffer goes back to the kernel.
func (p *tlsPipe) lend(b []byte) {
	p.mu.Lock()
	p.lent = b
	p.mu.Unlock()
}

// keep ends a lend: what crypto/tls left of the buffer (a paused
// connection stops reading) is copied into in, unless the input has ended
// (close_notify), after which nothing is read.
func (p *tlsPipe) keep(ended bool) {
	p.mu.Lock()
	if !ended {
		p.in = append(p.in, p.lent...)
	}
	p.lent = nil
	p.mu.Unlock()
}

// takeOut returns what crypto/tls wrote and starts a new buffer (the
// handshake goroutine may be writing meanwhile); giveBack returns the
// taken buffer for reuse once its bytes are copied.
func (p *tlsPipe) takeOut() []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	b := p.out
	p.out, p.spare = p.spare[:0], nil
	return b
}

func (p *tlsPipe) giveBack(b []byte) {
	p.mu.Lock()
	if p.spare == nil {
		p.spare = b[:0]
	}
	p.mu.Unlock()
}

// handshakeDone records the handshake's end; from then on Read does not
// wait.
func (p *tlsPipe) handshakeDone(err error) {
	p.mu.Lock()
	p.hsErr, p.wait = err, false
	p.mu.Unlock()
}

// handshakeResult reports whether the handshake has ended, and how.
func (p *tlsPipe) handshakeResult() (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return !p.wait, p.hsErr
}

// LocalAddr returns the connection's local address.
func (p *tlsPipe) LocalAddr() net.Addr { return p.local }

// RemoteAddr returns the peer's address.
func (p *tlsPipe) RemoteAddr() net.Addr { return p.remote }

// SetDeadline does nothing: the handshake is bounded by its context
// (Config.TLSHandshakeTimeout), and nothing else waits.
func (p *tlsPipe) SetDeadline(time.Time) error { return nil }

// SetReadDeadline does nothing, as SetDeadline.
func (p *tlsPipe) SetReadDeadline(time.Time) error { return nil }

// SetWriteDeadline does nothing: Write never waits.
func (p *tlsPipe) SetWriteDeadline(time.Time) error { return nil }

var _ net.Conn = (*tlsPipe)(nil)
