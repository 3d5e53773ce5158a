//go:build linux

package rio

import (
	"fmt"
	"net"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ringline-go/ringline/internal/backend"
	"github.com/ringline-go/ringline/internal/offheap"
)

// Dialing: a non-blocking socket, a connect on the backend and, with a
// timeout, a timer that cancels the connect. The connection belongs to the
// worker that dialed it.

// Dial starts connecting to address on network ("tcp", "tcp4", "tcp6" with
// a literal IP and port, or "unix" with a path) and returns the connection
// at once. OnOpen runs when it connects; if it cannot, OnClose runs instead
// with the cause: a *net.OpError matching the errno (errors.Is(err,
// syscall.ECONNREFUSED)), or ErrDialTimeout after timeout (0: no limit but
// the kernel's). Sends made before it connects are queued and go out then.
// A timeout takes one of the worker's Config.TimerSlots until the dial ends:
// size that for the dials a worker has pending at once.
// Call Dial on the worker (OnStart, another callback, Server.Run).
func (w *Worker) Dial(network, address string, timeout time.Duration) (Conn, error) {
	ep, err := parseEndpoint(network, address)
	if err != nil {
		return Conn{}, err
	}
	if ep.network == "udp" {
		return Conn{}, fmt.Errorf("rio: Dial: network %q: datagram connections come from DialUDP", network)
	}
	if w.stopping {
		return Conn{}, ErrServerClosed
	}
	fd, err := newSocket(ep.family)
	if err != nil {
		return Conn{}, err
	}
	if ep.family != unix.AF_UNIX {
		if err := setNoDelay(fd, w.cfg.Nagle); err != nil {
			unix.Close(fd)
			return Conn{}, err
		}
	}
	raw, err := offheap.RawSockaddr(ep.sa)
	if err != nil {
		unix.Close(fd)
		return Conn{}, err
	}
	idx, s, ok := w.takeSlot(fd, ep.family == unix.AF_UNIX, connConnecting)
	if !ok {
		unix.Close(fd)
		w.stats.rejected.Add(1)
		return Conn{}, ErrConnLimit
	}
	s.remote = sockaddrToAddr(ep.sa)
	c := Conn{w, idx, s.gen}
	undo := func(err error) (Conn, error) {
		s.timer.Stop()
		unix.Close(fd)
		w.freeSlot(s, idx)
		return Conn{}, err
	}
	if s.mb, err = w.msgs.get(); err != nil {
		return undo(err)
	}
	n := copy(s.mb.sa, raw)
	if timeout > 0 {
		if s.timer, err = w.AfterFunc(timeout, func() { w.dialTimedOut(c) }); err != nil {
			return undo(err)
		}
	}
	if err := w.be.Connect(fd, s.mb.sa[:n], userData(opConnect, idx, s.gen)); err != nil {
		return undo(err)
	}
	s.set(inConnect)
	w.stats.dialed.Add(1)
	return c, nil
}

// dialTimedOut cancels a connect that is still in flight.
func (w *Worker) dialTimedOut(c Conn) {
	s, err := c.slot()
	if err != nil || !s.has(inConnect) {
		return
	}
	s.timer = Timer{}
	w.closeNow(s, c.idx, &net.OpError{Op: "dial", Net: netName(s), Addr: s.remote, Err: ErrDialTimeout})
}

// onConnect opens the connection, or closes it with the connect's error.
func (w *Worker) onConnect(c *backend.Completion, idx, gen uint32) {
	s := w.live(idx, gen)
	if s == nil {
		return
	}
	s.clear(inConnect)
	w.releaseMsg(s)
	switch {
	case s.state == connFinal:
		w.finish(s, idx)
	case c.Res < 0:
		w.closeNow(s, idx, &net.OpError{Op: "dial", Net: netName(s), Addr: s.remote, Err: os.NewSyscallError("connect", syscall.Errno(-c.Res))})
	default:
		s.timer.Stop()
		s.timer = Timer{}
		if s.tls != nil {
			w.beginHandshake(s, idx)
		} else {
			w.open(s, idx)
		}
	}
}
