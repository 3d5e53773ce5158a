//go:build linux

package rio

import (
	"fmt"
	"net"

	"golang.org/x/sys/unix"
)

// connState is where a connection slot is in its life.
type connState uint8

const (
	connFree       connState = iota // in the free list
	connConnecting                  // an outbound connect is in flight
	connOpen                        // serving: data is delivered, sends accepted
	connDraining                    // graceful close: queued sends drain, then FIN
	connLingering                   // FIN sent: discarding input until the peer's FIN
	connFinal                       // cancelling what is in flight, then the close
)

// connSlot is one connection of a worker. Owner: the worker's thread; no
// field is touched from anywhere else. The slot is reused after OnClose; its
// generation tells old handles and old completions apart.
type connSlot struct {
	fd    int
	gen   uint32
	state connState
	unix  bool // AF_UNIX: no TCP options apply

	// In flight on fd. The slot is released only when all are false.
	recvArmed  bool // the multishot recv has not given its final completion
	recvCancel bool // a cancel of the recv was requested
	sending    bool // a sendmsg, or the POLLOUT that resumes it, is in flight
	pollOut    bool // of sending: it is the POLLOUT wait
	sendCancel bool // a cancel of the send or POLLOUT was requested
	connecting bool // the connect is in flight
	shutting   bool // the shutdown(SHUT_WR) is in flight

	peerEOF     bool // the peer's FIN arrived
	writeClosed bool // CloseWrite: no more sends; FIN once the queue drains
	finSent     bool // the shutdown(SHUT_WR) was issued
	blocked     bool // a Send from OnData found the pool exhausted; in Worker.blocked
	wantSlots   int  // when blocked: the free slots its refused send needed
	dirty       bool // sends queued but not issued; in Worker.dirty
	opened      bool // OnOpen ran: the handler knows the connection

	sendq  segQueue // queued sends, in order; the first inflight are in the kernel
	flight int      // segments of sendq handed to the kernel
	queued int      // bytes queued and not yet sent

	acc   []byte // unconsumed input, in front of what arrives next (Go heap)
	cause error  // why the connection is closing
	timer Timer  // the dial timeout or the close linger, if armed

	value  any
	local  net.Addr
	remote net.Addr

	// Off-heap memory of this slot, carved once from the worker's arena:
	// the msghdr and iovecs of its sendmsg, and the sockaddr of its connect.
	msg *unix.Msghdr
	iov []unix.Iovec
	sa  []byte
}

// inFlight reports whether the kernel may still act on the slot's descriptor.
func (s *connSlot) inFlight() bool {
	return s.recvArmed || s.sending || s.connecting || s.shutting
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
	if c.w == nil || int(c.idx) >= len(c.w.conns) {
		return nil, ErrStaleConn
	}
	s := &c.w.conns[c.idx]
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
// returns ErrSendPoolExhausted and queues nothing; called from OnData, the
// unconsumed bytes are delivered again once enough slots are free. A message
// larger than the whole pool is refused with ErrSendTooLarge.
func (c Conn) Send(p []byte) error {
	s, err := c.slot()
	if err != nil {
		return err
	}
	if (s.state != connOpen && s.state != connConnecting) || s.writeClosed {
		return ErrConnClosing
	}
	return c.w.send(s, c.idx, p)
}

// SendSome queues as much of p as the send pool takes, in order after the
// connection's earlier sends, and returns how much that was. For byte
// streams (echo, proxies) that need not send a message whole. When it takes
// less than all of p it returns ErrSendPoolExhausted, and called from
// OnData, the unconsumed bytes are delivered again once slots are free.
func (c Conn) SendSome(p []byte) (int, error) {
	s, err := c.slot()
	if err != nil {
		return 0, err
	}
	if (s.state != connOpen && s.state != connConnecting) || s.writeClosed {
		return 0, ErrConnClosing
	}
	return c.w.sendSome(s, c.idx, p)
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
// sends drain, a FIN is sent and the peer's FIN awaited (up to
// Config.CloseLinger), then OnClose runs with ErrLocalClose.
func (c Conn) Close() error {
	s, err := c.slot()
	if err != nil {
		return err
	}
	c.w.closeGraceful(s, c.idx, ErrLocalClose)
	return nil
}

// CloseWrite half-closes the connection: later sends are refused, and once
// the queued sends drain a FIN is sent. Data keeps being delivered until the
// peer closes its side, which ends the connection with io.EOF.
func (c Conn) CloseWrite() error {
	s, err := c.slot()
	if err != nil {
		return err
	}
	if s.state == connOpen && !s.writeClosed {
		s.writeClosed = true
		c.w.maybeFin(s, c.idx)
	}
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
	if !s.unix {
		_ = unix.SetsockoptLinger(s.fd, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: 0})
	}
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
