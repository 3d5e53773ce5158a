//go:build linux

package rio

import (
	"errors"

	"golang.org/x/sys/unix"

	"github.com/ringline-go/ringline/internal/backend"
)

// A connection's life: a slot is taken (accept or dial), OnOpen runs, data
// flows; then either a graceful close (drain the queued sends, send FIN,
// wait for the peer's FIN up to CloseLinger) or an immediate one (cancel
// what is in flight). When nothing is in flight any more the descriptor is
// closed, OnClose runs and the slot returns to the free list with its
// generation advanced, which makes every old handle stale.

// takeSlot gives a free slot to descriptor fd, or reports false at the
// connection limit.
func (w *Worker) takeSlot(fd int, isUnix bool, state connState) (uint32, *connSlot, bool) {
	idx, s, ok := w.conns.take()
	if !ok {
		return 0, nil, false
	}
	s.fd, s.unix = fd, isUnix
	s.setState(state)
	w.nconns++
	return idx, s, true
}

// open makes a connected slot serve: OnOpen, then the multishot recv, and
// the sends queued while it was connecting.
func (w *Worker) open(s *connSlot, idx uint32) {
	if s.state != connOpen {
		s.setState(connOpen)
	}
	w.callOpen(s, idx)
	if s.state != connOpen {
		return // OnOpen closed it
	}
	if w.wantsRecv(s) { // not when OnOpen held the receive
		w.armRecv(s, idx)
	}
	w.markDirty(s, idx)
}

// closeGraceful stops delivering data, drains the queued sends, sends FIN
// and waits for the peer's FIN, bounded by CloseLinger.
func (w *Worker) closeGraceful(s *connSlot, idx uint32, cause error) {
	switch s.state {
	case connConnecting:
		w.closeNow(s, idx, cause)
		return
	case connOpen:
	default:
		return // already closing
	}
	if s.tls != nil {
		w.tlsClosing(s)
	}
	s.setState(connDraining)
	s.cause = cause
	s.acc = s.acc[:0]
	w.unpause(s)
	s.timer.Stop()
	gen := s.gen
	t, err := w.AfterFunc(w.cfg.CloseLinger, func() {
		if s.gen == gen && (s.state == connDraining || s.state == connLingering) {
			w.closeNow(s, idx, nil)
		}
	})
	if err != nil {
		w.closeNow(s, idx, nil) // no timer to bound the wait: do not wait
		return
	}
	s.timer = t
	w.advanceClose(s, idx)
}

// advanceClose moves a graceful close on when its sends have drained.
func (w *Worker) advanceClose(s *connSlot, idx uint32) {
	if s.state != connDraining && s.state != connLingering {
		return
	}
	if s.has(inSend) || s.sendq.len() > 0 {
		w.markDirty(s, idx)
		return
	}
	if !s.is(markFinSent) {
		if w.fin(s, idx); !s.alive() {
			return // the FIN could not be queued: closed at once
		}
	}
	if s.is(markPeerEOF) {
		w.closeNow(s, idx, nil)
		return
	}
	if s.state == connDraining {
		s.setState(connLingering) // read and discard until the peer's FIN
	}
	if !s.has(inRecv | inRecvCancel) {
		w.armRecv(s, idx)
	}
}

// maybeFin sends the FIN of a CloseWrite once the queue has drained.
func (w *Worker) maybeFin(s *connSlot, idx uint32) {
	if s.is(markWriteClosed) && !s.is(markFinSent) && !s.has(inSend) && s.sendq.len() == 0 {
		w.fin(s, idx)
	}
}

func (w *Worker) fin(s *connSlot, idx uint32) {
	s.mark(markFinSent)
	if err := w.be.Shutdown(s.fd, userData(opShutdown, idx, s.gen)); err != nil {
		w.closeNow(s, idx, err)
		return
	}
	s.set(inShutdown)
}

// onShutdown completes the FIN; a failure there only matters to the close.
func (w *Worker) onShutdown(_ *backend.Completion, idx, gen uint32) {
	s := w.live(idx, gen)
	if s == nil {
		return
	}
	s.clear(inShutdown)
	if !w.bothShut(s, idx) {
		w.finish(s, idx)
	}
}

// peerClosed handles the peer's FIN.
func (w *Worker) peerClosed(s *connSlot, idx uint32) {
	s.mark(markPeerEOF)
	switch {
	case s.state == connOpen && s.is(markPaused):
		// Unconsumed input waits for its send; retryPaused ends it after.
	case s.state == connOpen:
		w.inputEnded(s, idx)
	default:
		w.advanceClose(s, idx)
	}
}

// closeNow cancels whatever is in flight on the connection and closes it as
// soon as that is done. cause, if not nil, replaces a graceful close's
// cause, unless that was a TLS failure (what follows it, a reset say, is
// its consequence).
// A close that discards data (queued sends, unconsumed input) resets the
// connection, so the peer cannot take what it got for a complete stream.
func (w *Worker) closeNow(s *connSlot, idx uint32, cause error) {
	if !s.alive() {
		return
	}
	if s.cause == nil || cause != nil && !(s.tls != nil && s.tls.failed) {
		if cause == nil {
			cause = ErrLocalClose
		}
		s.cause = cause
	}
	if s.queued > 0 || len(s.acc) > 0 || errors.Is(cause, ErrCallbackPanic) || errors.Is(cause, ErrRecvBufferFull) {
		w.reset(s)
	}
	s.setState(connFinal)
	s.acc = s.acc[:0]
	w.unpause(s)
	s.timer.Stop()
	w.dropUnsent(s)
	gen := s.gen
	w.cancelRecv(s, idx)
	if s.has(inSend) && !s.has(inSendCancel) {
		s.set(inSendCancel)
		if s.has(inPollOut) {
			w.cancel(userData(opPollOut, idx, gen))
		} else {
			w.cancel(userData(opSend, idx, gen))
		}
	}
	if s.has(inConnect) {
		w.cancel(userData(opConnect, idx, gen))
	}
	w.finish(s, idx)
}

// reset makes the coming close of s send a reset (RST) rather than a FIN:
// SO_LINGER with a zero timeout. Unix sockets have no reset; their peer
// sees the close.
func (w *Worker) reset(s *connSlot) {
	if !s.unix && s.fd >= 0 && !s.is(markReset) {
		s.mark(markReset)
		lingerZero(s.fd)
		w.stats.resets.Add(1)
	}
}

// cancel asks the backend to cancel target; if even that cannot be queued
// the operation completes on its own (the peer or the timer ends it).
func (w *Worker) cancel(target uint64) {
	if err := w.be.Cancel(target, userData(opCancel, 0, 0)); err != nil {
		w.logError("cancel", err)
	}
}

// finish closes a connection in its final state once nothing is in flight.
func (w *Worker) finish(s *connSlot, idx uint32) {
	if s.state != connFinal || s.inFlight() {
		return
	}
	if err := w.be.CloseFd(s.fd, userData(opClose, idx, s.gen)); err != nil {
		unix.Close(s.fd) // the queue refused it: close here instead
	}
	w.stats.closed.Add(1)
	w.callClose(s, idx, s.cause)
	w.freeSlot(s, idx)
}

// freeSlot resets the slot, advances its generation and returns it.
func (w *Worker) freeSlot(s *connSlot, idx uint32) {
	for s.sendq.len() > 0 {
		w.retire(s, *s.sendq.front())
		s.sendq.pop()
	}
	acc := s.acc[:0]
	if cap(acc) > w.cfg.AccInitial {
		acc = nil // a grown accumulator is not kept for the next occupant
	}
	if s.mb != nil {
		w.msgs.put(s.mb)
	}
	if s.tls != nil {
		s.tls.pipe.Close() // ends a handshake still running
	}
	s.setState(connFree)
	*s = connSlot{fd: -1, gen: s.gen + 1, acc: acc, sendq: s.sendq}
	w.conns.put(idx)
	w.nconns--
}

// live returns slot idx if it is still at generation gen.
func (w *Worker) live(idx, gen uint32) *connSlot {
	s := w.conns.at(idx)
	if s == nil {
		w.stats.unknownTags.Add(1)
		return nil
	}
	if s.gen != gen || s.state == connFree {
		w.stats.staleCompletions.Add(1)
		return nil
	}
	return s
}

// lingerZero sets SO_LINGER with a zero timeout on fd, so closing it sends a
// reset (RST) rather than a FIN. A failure leaves the close a plain one.
func lingerZero(fd int) {
	_ = unix.SetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: 0})
}
