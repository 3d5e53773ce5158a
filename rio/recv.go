//go:build linux

package rio

import (
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/ringline-go/ringline/internal/backend"
)

// Receiving: one multishot recv per connection, filling the worker's pool
// of provided buffers. A buffer goes back to the pool as soon as its bytes
// were delivered (or copied to the accumulator); the backend publishes the
// returns in one batch per iteration.

// armRecv arms the connection's multishot recv.
func (w *Worker) armRecv(s *connSlot, idx uint32) {
	if err := w.be.Recv(s.fd, userData(opRecv, idx, s.gen)); err != nil {
		w.closeNow(s, idx, err)
		return
	}
	s.set(inRecv)
}

// onRecv handles one receive completion.
func (w *Worker) onRecv(c *backend.Completion, idx, gen uint32) {
	s := w.live(idx, gen)
	if c.Flags&backend.FlagBuffer != 0 {
		id := uint16(c.Flags >> backend.BufferShift)
		if s != nil && c.Res > 0 {
			w.stats.bytesIn.Add(uint64(c.Res))
			switch {
			case s.state != connOpen:
			case s.tls != nil:
				w.tlsInput(s, idx, w.be.Buffer(id)[:c.Res])
			default:
				w.rx = rxBuf{id: id, data: w.be.Buffer(id)[:c.Res]}
				w.deliver(s, idx, w.rx.data)
				w.rx = rxBuf{}
			}
		}
		w.releaseRx(id)
	}
	if s == nil {
		return
	}
	if c.Flags&backend.FlagMore == 0 {
		s.clear(inRecv | inRecvCancel)
	}
	switch {
	case c.Res == 0:
		if s.has(inRecv) { // a zero-length datagram cannot happen on a stream
			return
		}
		if !w.tlsInputEnd(s, idx, io.EOF) {
			w.peerClosed(s, idx)
		}
	case c.Res == -int32(syscall.ENOBUFS):
		// The data waits in the socket; the receive is re-armed once a
		// buffer comes back (feedStarved), not at once into an empty ring.
		w.stats.enobufs.Add(1)
		if !s.has(inRecv) && !s.is(markStarved) {
			if len(w.starved) == 0 {
				w.starvedAt = time.Since(w.started)
			}
			s.mark(markStarved)
			w.starved = append(w.starved, connRef{idx, gen})
		}
	case c.Res == -int32(syscall.ECANCELED):
		// Paused for backpressure, or closing.
	case c.Res < 0:
		if err := opError("read", s, syscall.Errno(-c.Res)); !w.tlsInputEnd(s, idx, err) {
			w.closeNow(s, idx, err)
		}
	}
	switch {
	case s.state == connFinal:
		w.finish(s, idx)
	case w.wantsRecv(s):
		w.armRecv(s, idx)
	}
}

// holdRecv stops taking the connection's input off the socket until
// resumeRecv (Conn.HoldReceive, and a TLS handshake with its fill).
func (w *Worker) holdRecv(s *connSlot, idx uint32) {
	if !s.is(markHeld) {
		s.mark(markHeld)
		w.cancelRecv(s, idx)
	}
}

// cancelRecv cancels the connection's armed receive, if it has one not
// being cancelled already.
func (w *Worker) cancelRecv(s *connSlot, idx uint32) {
	if s.has(inRecv) && !s.has(inRecvCancel) {
		s.set(inRecvCancel)
		w.cancel(userData(opRecv, idx, s.gen))
	}
}

// resumeRecv ends a holdRecv: the receive is armed again.
func (w *Worker) resumeRecv(s *connSlot, idx uint32) {
	if s.is(markHeld) {
		s.unmark(markHeld)
		if w.wantsRecv(s) {
			w.armRecv(s, idx)
		}
	}
}

// wantsRecv reports whether the connection should have a receive armed and
// has none.
func (w *Worker) wantsRecv(s *connSlot) bool {
	// A hold (HoldReceive) counts only while open: a closing connection
	// must read on to see the peer's FIN.
	held := s.is(markHeld) && s.state == connOpen
	return !s.has(inRecv) && !held && !s.is(markPeerEOF|markPaused|markStarved) && (s.state == connOpen || s.state == connLingering)
}

// feedStarved re-arms the receives that found the buffer ring empty, once
// a buffer has gone back to it since (or, with none back, a tick later), so
// an empty ring is not polled in a loop.
func (w *Worker) feedStarved() {
	if len(w.starved) == 0 || !w.freed && time.Since(w.started)-w.starvedAt < w.cfg.TickInterval {
		return
	}
	list := w.starved
	w.starved, w.freed = nil, false
	for _, r := range list {
		s := w.conns.at(r.idx)
		if s.gen != r.gen || !s.is(markStarved) {
			continue
		}
		s.unmark(markStarved)
		if w.wantsRecv(s) {
			w.armRecv(s, r.idx)
		}
	}
	w.starved = list[:0]
}

// deliver hands data to OnData behind any bytes still unconsumed; what is
// left over is kept in the accumulator.
func (w *Worker) deliver(s *connSlot, idx uint32, data []byte) {
	if len(s.acc) > 0 || s.is(markPaused) {
		if w.accumulate(s, idx, data) && !s.is(markPaused) {
			w.deliverAcc(s, idx)
		}
		return
	}
	if n := w.offer(s, idx, data); n < len(data) && s.state == connOpen {
		w.accumulate(s, idx, data[n:])
	}
}

// deliverAcc offers the accumulated bytes to OnData again.
func (w *Worker) deliverAcc(s *connSlot, idx uint32) {
	n := w.offer(s, idx, s.acc)
	if s.state == connOpen {
		s.acc = s.acc[:copy(s.acc, s.acc[n:])]
	}
}

// offer hands data to OnData and returns how much it consumed. OnData sees
// windows of at most the send budget, so a handler that sends each chunk
// whole always can; after each window it consumed something of, the next
// starts where it stopped. If it consumes nothing of a window that does not
// hold all there is, and made no refused send, it is waiting for more (a
// whole frame, say) and is offered up to AccCap instead. A refused send
// with bytes left over pauses the connection until the send could succeed.
func (w *Worker) offer(s *connSlot, idx uint32, data []byte) int {
	window := w.budget
	if s.tls != nil {
		window = tlsFits(window) // what Send can take of it once encrypted
	}
	done, limit := 0, window
	for done < len(data) && s.state == connOpen {
		rest := data[done:]
		win := rest[:min(len(rest), limit)]
		n, refused, ok := w.callData(s, idx, win)
		done += n
		switch {
		case !ok:
			return done
		case refused.set && n < len(win):
			w.pause(s, idx, refused)
			return done
		case n > 0:
			limit = window
			continue
		case len(win) == len(rest) || limit >= w.cfg.AccCap:
			return done // waiting for input that has not arrived
		}
		limit = max(w.cfg.AccCap, len(win)+1)
	}
	return done
}

// accumulate appends data to the connection's accumulator, closing the
// connection with ErrRecvBufferFull past Config.AccCap. Input that arrives
// while a paused recv is being cancelled is kept whatever the cap: the
// kernel took it from the socket before the cancel, and the receive buffer
// pool bounds it.
func (w *Worker) accumulate(s *connSlot, idx uint32, data []byte) bool {
	if len(s.acc)+len(data) > w.cfg.AccCap && !(s.is(markPaused) && s.has(inRecvCancel)) {
		w.closeNow(s, idx, fmt.Errorf("%w: %d bytes unconsumed, cap %d", ErrRecvBufferFull, len(s.acc)+len(data), w.cfg.AccCap))
		return false
	}
	if s.acc == nil {
		s.acc = make([]byte, 0, max(w.cfg.AccInitial, len(data)))
	}
	s.acc = append(s.acc, data...)
	return true
}

// pause records that OnData left bytes unconsumed after a send it made was
// refused: the connection's recv is cancelled, so TCP pushes back on the
// peer while the others are served, and OnData is offered the unconsumed
// bytes again once the refused send could succeed.
func (w *Worker) pause(s *connSlot, idx uint32, need want) {
	s.want = s.want.merge(need)
	if s.is(markPaused) {
		return
	}
	s.mark(markPaused)
	w.paused = append(w.paused, connRef{idx, s.gen})
	w.cancelRecv(s, idx)
}

// unpause takes the connection off the paused list's books (its entry is
// skipped when the list is walked).
func (w *Worker) unpause(s *connSlot) {
	s.unmark(markPaused)
	s.want = want{}
}

// ready reports whether a paused connection's refused send could succeed:
// the pool has the slots, and the connection the send was made on has
// drained far enough (or closed).
func (w *Worker) ready(s *connSlot) bool {
	if w.pool.available() < s.want.slots {
		return false
	}
	on := w.conns.at(s.want.on.idx)
	return on == nil || on.gen != s.want.on.gen || !on.alive() || on.queued <= s.want.queued
}

// retryPaused offers the unconsumed bytes of paused connections to OnData
// again, oldest first, each once its refused send could succeed.
func (w *Worker) retryPaused() {
	if len(w.paused) == 0 {
		return
	}
	list := w.paused
	w.paused = nil
	for _, r := range list {
		s := w.conns.at(r.idx)
		if s.gen != r.gen || !s.is(markPaused) {
			continue
		}
		if !w.ready(s) {
			w.paused = append(w.paused, r) // keeps its place
			continue
		}
		w.unpause(s)
		if s.state == connOpen && len(s.acc) > 0 {
			w.deliverAcc(s, r.idx)
		}
		if s.tls != nil && s.tls.open && s.state == connOpen && !s.is(markPaused) {
			w.tlsPump(s, r.idx) // records that waited undecrypted
		}
		if s.is(markPaused) || s.state != connOpen {
			continue
		}
		switch {
		case s.is(markPeerEOF) && s.tls == nil: // a TLS connection's pump reports its end
			w.inputEnded(s, r.idx)
		case w.wantsRecv(s):
			w.armRecv(s, r.idx)
		}
	}
	list = list[:0]
	if w.paused == nil {
		w.paused = list
	}
}

// opError wraps errno as Go's net package would, so errors.Is matches the
// errno and callers see the operation and the addresses.
func opError(op string, s *connSlot, errno syscall.Errno) error {
	return &net.OpError{Op: op, Net: netName(s), Addr: s.remote, Err: os.NewSyscallError(sysName(op), errno)}
}

func netName(s *connSlot) string {
	if s.unix {
		return "unix"
	}
	return "tcp"
}

func sysName(op string) string {
	switch op {
	case "read":
		return "recv"
	case "write":
		return "sendmsg"
	}
	return op
}
