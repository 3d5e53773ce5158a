//go:build linux

package rio

import (
	"fmt"
	"net"
	"runtime"

	"golang.org/x/sys/unix"
)

// connSlot is one connection of a worker. Owner: the worker's thread; no
// field is touched from anywhere else. The slot is reused after OnClose; its
// generation tells old handles and old completions apart. Its life is
// described in conn_state.go.
type connSlot struct {
	fd    int
	gen   uint32
	state connState
	ops   inflight // operations the kernel may still act on
	marks marks    // what has happened
	unix  bool     // AF_UNIX: no TCP options apply

	want want // when paused: what the refused send needs

	sendq  segQueue // queued sends, in order; the first flight are in the kernel
	flight int      // segments of sendq handed to the kernel
	queued int      // bytes queued and not yet sent, counted against SendBudget
	held   int      // segments of sendq forwarding a receive buffer

	// pins the caller's memory (SendBorrowed) in the send in flight, so
	// the kernel never reads Go memory that is not pinned; unpinned when
	// the send completes (the queued segment keeps the memory alive)
	pinner runtime.Pinner

	acc   []byte // unconsumed input, in front of what arrives next (Go heap)
	cause error  // why the connection is closing
	timer Timer  // the dial timeout or the close linger, if armed

	value  any
	local  net.Addr
	remote net.Addr

	// Off-heap memory of the sendmsg or connect in flight, from the
	// worker's msgPool; nil while the connection has neither.
	mb *msgBlock

	tls *tlsState // a TLS connection's crypto/tls side; nil for plain ones
}

// want is what a refused send needs before it can succeed: this many free
// pool slots, and the queued bytes of the connection it was made on (on;
// another one when a handler proxies) at or below queued. The zero value is
// no refusal.
type want struct {
	slots  int
	queued int
	on     connRef
	set    bool
}

// merge keeps the stricter of two needs; of two on different connections,
// the first, with the larger slot need.
func (a want) merge(b want) want {
	switch {
	case !a.set:
		return b
	case !b.set:
		return a
	case a.on != b.on:
		a.slots = max(a.slots, b.slots)
		return a
	}
	return want{slots: max(a.slots, b.slots), queued: min(a.queued, b.queued), on: a.on, set: true}
}

// Conn is a handle to one connection of a worker: a small value, cheap to
// copy and compare. Its methods must be called on the connection's worker
// (inside a Handler method, a timer or a function given to Server.Run);
// from elsewhere they race. Once the connection has closed (after OnClose)
// every method refuses the handle with ErrStaleConn, even when its slot
// serves a new connection.
type Conn struct {
	w   *Worker
	idx uint32
	gen uint32
}

// slot returns the connection's slot, or ErrStaleConn.
func (c Conn) slot() (*connSlot, error) {
	if c.w == nil {
		return nil, ErrStaleConn
	}
	s := c.w.conns.at(c.idx)
	if s == nil {
		return nil, ErrStaleConn
	}
	if s.gen != c.gen || s.state == connFree {
		return nil, fmt.Errorf("%w: slot %d is at generation %d, the handle has %d", ErrStaleConn, c.idx, s.gen, c.gen)
	}
	return s, nil
}

// Worker returns the worker the connection belongs to.
func (c Conn) Worker() *Worker { return c.w }

// ID is unique among the worker's live connections: the slot index and
// generation.
func (c Conn) ID() uint64 { return uint64(c.idx)<<32 | uint64(c.gen) }

// Valid reports whether the handle still names a live connection.
func (c Conn) Valid() bool {
	_, err := c.slot()
	return err == nil
}

// Send copies p into the worker's send pool and queues it after the
// connection's earlier sends; the bytes go out in order, coalesced with
// other queued sends. p may be reused as soon as Send returns. The message is
// taken whole or not at all: when the pool has too few free slots Send
// returns ErrSendPoolExhausted, and when it would take the connection past
// Config.SendBudget, ErrSendBudgetExhausted; either way it queues nothing
// and, called from OnData, the unconsumed bytes are delivered again once the
// send could succeed. A message larger than the budget or the whole pool is
// refused with ErrSendTooLarge. On a TLS connection p is encrypted into the
// pool, and the message must fit with the most its records can add: 96
// bytes for each whole KiB, and 96 more.
func (c Conn) Send(p []byte) error {
	s, err := c.sendable()
	if err != nil {
		return err
	}
	var r want
	if s.tls != nil {
		r, err = c.w.tlsSend(s, c.idx, p)
	} else {
		r, err = c.w.send(s, c.idx, p)
	}
	c.w.noteRefusal(r)
	return err
}

// SendSome queues as much of p as the send pool and the connection's send
// budget take, in order after the connection's earlier sends, and returns
// how much that was. For byte streams (echo, proxies) that need not send a
// message whole. When it takes less than all of p it returns
// ErrSendPoolExhausted or ErrSendBudgetExhausted, naming the limit that
// stopped it, and called from OnData, the unconsumed bytes are delivered
// again once there is room.
func (c Conn) SendSome(p []byte) (int, error) {
	s, err := c.sendable()
	if err != nil {
		return 0, err
	}
	n, r, err := c.w.sendSome(s, c.idx, p)
	c.w.noteRefusal(r)
	return n, err
}

// sendable returns the connection's slot if it takes sends.
func (c Conn) sendable() (*connSlot, error) {
	s, err := c.slot()
	if err != nil {
		return nil, err
	}
	if (s.state != connOpen && s.state != connConnecting) || s.is(markWriteClosed) {
		return nil, ErrConnClosing
	}
	return s, nil
}

// Queued returns the bytes queued on the connection and not yet sent.
func (c Conn) Queued() int {
	s, err := c.slot()
	if err != nil {
		return 0
	}
	return s.queued
}

// Close closes the connection gracefully: no more data is delivered, queued
// sends drain (on a TLS connection, followed by close_notify), a FIN is
// sent and the peer's FIN awaited (up to Config.CloseLinger), then OnClose
// runs with ErrLocalClose.
func (c Conn) Close() error {
	s, err := c.slot()
	if err != nil {
		return err
	}
	c.w.closeGraceful(s, c.idx, ErrLocalClose)
	return nil
}

// CloseWrite half-closes the connection: later sends are refused, and once
// the queued sends drain a FIN is sent (on a TLS connection, close_notify
// and then the FIN). Data keeps being delivered until the
// peer closes its side, which ends the connection with io.EOF.
func (c Conn) CloseWrite() error {
	s, err := c.slot()
	if err != nil {
		return err
	}
	if s.state == connOpen && !s.is(markWriteClosed) {
		if s.tls != nil {
			c.w.tlsClosing(s)
		}
		s.mark(markWriteClosed)
		c.w.maybeFin(s, c.idx)
	}
	return nil
}

// HoldReceive stops taking the connection's input off the socket, so TCP
// flow control pushes back on the peer, until ResumeReceive: for a handler
// that buffers what OnData gives it for a reader elsewhere (the net.Conn
// adapter) and must not buffer without bound. Input already on its way
// when the hold begins is still delivered.
func (c Conn) HoldReceive() error {
	s, err := c.slot()
	if err != nil {
		return err
	}
	c.w.holdRecv(s, c.idx)
	return nil
}

// ResumeReceive ends a HoldReceive: the receive is armed again.
func (c Conn) ResumeReceive() error {
	s, err := c.slot()
	if err != nil {
		return err
	}
	c.w.resumeRecv(s, c.idx)
	return nil
}

// Abort closes the connection at once with a reset (SO_LINGER 0): queued
// sends are dropped. OnClose runs with ErrAborted.
func (c Conn) Abort() error {
	s, err := c.slot()
	if err != nil {
		return err
	}
	if s.state == connFinal {
		return nil
	}
	c.w.reset(s)
	c.w.closeNow(s, c.idx, ErrAborted)
	return nil
}

// SetValue stores a value of the caller's with the connection.
func (c Conn) SetValue(v any) {
	if s, err := c.slot(); err == nil {
		s.value = v
	}
}

// Value returns the value stored with SetValue, or nil.
func (c Conn) Value() any {
	if s, err := c.slot(); err == nil {
		return s.value
	}
	return nil
}

// LocalAddr returns the connection's local address (nil for a stale handle).
func (c Conn) LocalAddr() net.Addr {
	s, err := c.slot()
	if err != nil {
		return nil
	}
	if s.local == nil {
		if sa, err := unix.Getsockname(s.fd); err == nil {
			s.local = sockaddrToAddr(sa)
		}
	}
	return s.local
}

// RemoteAddr returns the peer's address (nil for a stale handle).
func (c Conn) RemoteAddr() net.Addr {
	s, err := c.slot()
	if err != nil {
		return nil
	}
	if s.remote == nil {
		if sa, err := unix.Getpeername(s.fd); err == nil {
			s.remote = sockaddrToAddr(sa)
		}
	}
	return s.remote
}

// String names the connection for logs.
func (c Conn) String() string {
	if c.w == nil {
		return "conn (zero)"
	}
	return fmt.Sprintf("conn %d.%d/%d", c.w.ID(), c.idx, c.gen)
}
