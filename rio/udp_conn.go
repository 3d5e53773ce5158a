//go:build linux

package rio

import (
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/ringline-go/ringline/internal/backend"
)

// Connected UDP: a datagram socket connect(2)ed to one peer, on a worker.
// Its datagrams arrive through the same datagram pool as a ListenUDP
// server's, and the kernel's ICMP reports (port unreachable:
// ECONNREFUSED) come back as errors, which an unconnected socket never
// sees.

// UDPConn is a connected datagram socket on one worker, made by
// Worker.DialUDP: a slot and its generation, so a handle kept after Close
// is refused. Call its methods on the worker.
type UDPConn struct {
	w   *Worker
	idx uint32
	gen uint32
}

// UDPConnHandler receives a UDPConn's datagrams (err nil; data valid only
// during the call) and its errors (data nil): a *net.OpError matching
// syscall.ECONNREFUSED when the peer's port is unreachable, ErrTruncated
// for a datagram larger than Config.DgramSize. The connection stays open
// after an error; Close ends it.
type UDPConnHandler func(c UDPConn, data []byte, err error)

// ErrTruncated: a datagram larger than Config.DgramSize arrived; it is
// not delivered.
var ErrTruncated = errors.New("rio: datagram truncated")

// udpConnSlot is one connected datagram socket.
type udpConnSlot struct {
	fd      int
	gen     uint32
	h       UDPConnHandler
	remote  *net.UDPAddr
	open    bool
	armed   bool // the multishot recvmsg is armed
	closing bool
}

// udpConns is a worker's connected datagram sockets.
type udpConns struct {
	slots []udpConnSlot
	free  []uint32
}

// inUse is how many slots hold a connection, open or closing.
func (t *udpConns) inUse() int { return len(t.slots) - len(t.free) }

// DialUDP connects a datagram socket to address ("udp", "udp4", "udp6"
// with a literal IP and port) and arms its receive; h gets what arrives.
func (w *Worker) DialUDP(network, address string, h UDPConnHandler) (UDPConn, error) {
	ep, err := parseEndpoint(network, address)
	if err != nil {
		return UDPConn{}, err
	}
	if ep.network != "udp" || h == nil {
		return UDPConn{}, fmt.Errorf("rio: DialUDP: network %q: want udp, udp4 or udp6, and a handler", network)
	}
	if w.stopping {
		return UDPConn{}, ErrServerClosed
	}
	fd, err := unix.Socket(ep.family, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return UDPConn{}, os.NewSyscallError("socket", err)
	}
	if err := unix.Connect(fd, ep.sa); err != nil { // no packet leaves: it sets the peer
		unix.Close(fd)
		return UDPConn{}, &net.OpError{Op: "dial", Net: "udp", Addr: udpAddr(ep.sa), Err: os.NewSyscallError("connect", err)}
	}
	t := &w.uconns
	var i uint32
	if n := len(t.free); n > 0 {
		i, t.free = t.free[n-1], t.free[:n-1]
	} else {
		t.slots = append(t.slots, udpConnSlot{})
		i = uint32(len(t.slots) - 1)
	}
	s := &t.slots[i]
	*s = udpConnSlot{fd: fd, gen: s.gen + 1, h: h, remote: udpAddr(ep.sa).(*net.UDPAddr), open: true}
	c := UDPConn{w, i, s.gen}
	if err := w.armUDPConn(c); err != nil {
		unix.Close(fd)
		w.dropUDPConn(i)
		return UDPConn{}, err
	}
	return c, nil
}

// armUDPConn arms the connection's multishot recvmsg.
func (w *Worker) armUDPConn(c UDPConn) error {
	tmpl, err := w.dgramTemplate()
	if err != nil {
		return err
	}
	s := &w.uconns.slots[c.idx]
	if err := w.be.RecvMsg(s.fd, tmpl, userData(opUDPConnRecv, c.idx, c.gen)); err != nil {
		return err
	}
	s.armed = true
	return nil
}

// live returns the open slot c names, or nil.
func (c UDPConn) live() *udpConnSlot {
	if c.w == nil || int(c.idx) >= len(c.w.uconns.slots) {
		return nil
	}
	s := &c.w.uconns.slots[c.idx]
	if s.gen != c.gen || !s.open || s.closing {
		return nil
	}
	return s
}

// Send sends data to the peer as one datagram, whole, from the worker's
// datagram send pool, or refuses it (ErrDatagramTooLarge,
// ErrSendPoolExhausted). A stale or closed handle gets net.ErrClosed.
func (c UDPConn) Send(data []byte) error {
	s := c.live()
	if s == nil {
		return &net.OpError{Op: "write", Net: "udp", Err: net.ErrClosed}
	}
	return c.w.queueDgram(s.fd, int32(c.idx), c.gen, nil, data, 0)
}

// RemoteAddr is the peer's address (nil for a stale handle).
func (c UDPConn) RemoteAddr() net.Addr {
	if s := c.live(); s != nil {
		return s.remote
	}
	return nil
}

// Close stops the receive and closes the socket once it has ended; the
// handler is not called again.
func (c UDPConn) Close() error {
	s := c.live()
	if s == nil {
		return &net.OpError{Op: "close", Net: "udp", Err: net.ErrClosed}
	}
	s.closing = true
	if s.armed {
		c.w.cancel(userData(opUDPConnRecv, c.idx, c.gen))
		return nil
	}
	c.w.finishUDPConn(c.idx)
	return nil
}

// onUDPConnRecv handles a connected socket's datagram or the end of its
// receive: errors go to the handler and the receive is re-armed.
func (w *Worker) onUDPConnRecv(c *backend.Completion, idx, gen uint32) {
	t := &w.uconns
	if int(idx) >= len(t.slots) || t.slots[idx].gen != gen || !t.slots[idx].open {
		w.stats.staleCompletions.Add(1)
		if c.Flags&backend.FlagBuffer != 0 {
			w.be.DgramRelease(uint16(c.Flags >> backend.BufferShift))
		}
		return
	}
	s := &t.slots[idx]
	conn := UDPConn{w, idx, gen}
	final := c.Flags&backend.FlagMore == 0
	if final {
		// The receive has ended, before the handler sees this last
		// datagram: a Close from it has nothing to cancel.
		s.armed = false
	}
	if c.Flags&backend.FlagBuffer != 0 {
		id := uint16(c.Flags >> backend.BufferShift)
		if !s.closing {
			w.deliverUDPConn(conn, w.be.DgramBuffer(id)[:c.Res])
		}
		w.be.DgramRelease(id)
	}
	if !final {
		return
	}
	s = &t.slots[idx] // the handler may have dialed: the table may have grown
	if s.gen != gen || !s.open {
		return // the handler closed it, and it is finished
	}
	switch {
	case s.closing || w.stopping:
		w.finishUDPConn(idx)
		return
	case c.Res == -int32(syscall.ENOBUFS):
		w.stats.dgramNoBufs.Add(1)
	case c.Res < 0 && c.Res != -int32(syscall.ECANCELED):
		err := &net.OpError{Op: "read", Net: "udp", Addr: s.remote, Err: os.NewSyscallError("recvmsg", syscall.Errno(-c.Res))}
		w.callUDPConn(conn, nil, err)
	}
	if s := &t.slots[idx]; s.open && !s.closing && !w.stopping {
		if err := w.armUDPConn(conn); err != nil {
			w.callUDPConn(conn, nil, err)
		}
	}
}

// deliverUDPConn parses one datagram buffer and calls the handler.
func (w *Worker) deliverUDPConn(c UDPConn, buf []byte) {
	d, truncated, err := w.parseDgram(buf)
	switch {
	case err != nil:
		w.callUDPConn(c, nil, err)
	case truncated:
		w.callUDPConn(c, nil, fmt.Errorf("%w: %d bytes", ErrTruncated, d.PayloadLen))
	default:
		w.stats.dgramsIn.Add(1)
		w.stats.bytesIn.Add(uint64(len(d.Payload)))
		w.callUDPConn(c, d.Payload, nil)
	}
}

// callUDPConn runs the connection's handler; a panic is counted and
// logged, and closes the connection.
func (w *Worker) callUDPConn(c UDPConn, data []byte, err error) {
	defer func() {
		if v := recover(); v != nil {
			w.recovered("UDPConnHandler", v)
			c.Close()
		}
	}()
	w.uconns.slots[c.idx].h(c, data, err)
}

// finishUDPConn closes the socket of a connection whose receive has ended.
func (w *Worker) finishUDPConn(idx uint32) {
	s := &w.uconns.slots[idx]
	if err := w.be.CloseFd(s.fd, userData(opClose, 0, 0)); err != nil {
		unix.Close(s.fd)
	}
	w.dropUDPConn(idx)
}

// dropUDPConn frees slot idx; its handles go stale.
func (w *Worker) dropUDPConn(idx uint32) {
	t := &w.uconns
	t.slots[idx] = udpConnSlot{gen: t.slots[idx].gen}
	t.free = append(t.free, idx)
}

// stopUDPConns closes every connected datagram socket (the worker stops).
func (w *Worker) stopUDPConns() {
	for i := range w.uconns.slots {
		if s := &w.uconns.slots[i]; s.open && !s.closing {
			UDPConn{w, uint32(i), s.gen}.Close()
		}
	}
}

// closeUDPConnFds closes what is left at exit, after the backend.
func (w *Worker) closeUDPConnFds() {
	for i := range w.uconns.slots {
		if s := &w.uconns.slots[i]; s.open {
			unix.Close(s.fd)
			w.dropUDPConn(uint32(i))
		}
	}
}
