//go:build linux

package rio

import (
	"io"

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
	if len(w.free) == 0 {
		return 0, nil, false
	}
	idx := w.free[len(w.free)-1]
	w.free = w.free[:len(w.free)-1]
	s := &w.conns[idx]
	s.fd, s.unix, s.state = fd, isUnix, state
	w.nconns++
	return idx, s, true
}

// open makes a connected slot serve: OnOpen, then the multishot recv, and
// the sends queued while it was connecting.
func (w *Worker) open(s *connSlot, idx uint32) {
	s.state = connOpen
	w.callOpen(s, idx)
	if s.state != connOpen {
		return // OnOpen closed it
	}
	w.armRecv(s, idx)
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
	s.state, s.cause = connDraining, cause
	s.acc = s.acc[:0]
	w.unblock(s)
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
	if s.sending || s.sendq.len() > 0 {
		w.markDirty(s, idx)
		return
	}
	if !s.finSent {
		w.fin(s, idx)
	}
	if s.peerEOF {
		w.closeNow(s, idx, nil)
		return
	}
	s.state = connLingering // read and discard until the peer's FIN
	if !s.recvArmed && !s.recvCancel {
		w.armRecv(s, idx)
	}
}

// maybeFin sends the FIN of a CloseWrite once the queue has drained.
func (w *Worker) maybeFin(s *connSlot, idx uint32) {
	if s.writeClosed && !s.finSent && !s.sending && s.sendq.len() == 0 {
		w.fin(s, idx)
	}
}

func (w *Worker) fin(s *connSlot, idx uint32) {
	s.finSent = true
	if err := w.be.Shutdown(s.fd, userData(opShutdown, idx, s.gen)); err != nil {
		w.closeNow(s, idx, err)
		return
	}
	s.shutting = true
}

// onShutdown completes the FIN; a failure there only matters to the close.
func (w *Worker) onShutdown(_ *backend.Completion, idx, gen uint32) {
	s := w.live(idx, gen)
	if s == nil {
		return
	}
	s.shutting = false
	w.finish(s, idx)
}

// peerClosed handles the peer's FIN.
func (w *Worker) peerClosed(s *connSlot, idx uint32) {
	s.peerEOF = true
	switch {
	case s.state == connOpen && s.blocked:
		// Unconsumed input waits for the pool; retryBlocked ends it after.
	case s.state == connOpen:
		w.closeGraceful(s, idx, io.EOF)
	default:
		w.advanceClose(s, idx)
	}
}

// closeNow cancels whatever is in flight on the connection and closes it as
// soon as that is done. cause, if not nil, replaces a graceful close's cause.
func (w *Worker) closeNow(s *connSlot, idx uint32, cause error) {
	if s.state == connFinal || s.state == connFree {
		return
	}
	if cause != nil || s.cause == nil {
		if cause == nil {
			cause = ErrLocalClose
		}
		s.cause = cause
	}
	s.state = connFinal
	s.acc = s.acc[:0]
	w.unblock(s)
	s.timer.Stop()
	w.dropUnsent(s)
	gen := s.gen
	if s.recvArmed && !s.recvCancel {
		s.recvCancel = true
		w.cancel(userData(opRecv, idx, gen))
	}
	if s.sending && !s.sendCancel {
		s.sendCancel = true
		if s.pollOut {
			w.cancel(userData(opPollOut, idx, gen))
		} else {
			w.cancel(userData(opSend, idx, gen))
		}
	}
	if s.connecting {
		w.cancel(userData(opConnect, idx, gen))
	}
	w.finish(s, idx)
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
	w.pool.putAll(&s.sendq)
	acc := s.acc[:0]
	if cap(acc) > w.cfg.AccInitial {
		acc = nil // a grown accumulator is not kept for the next occupant
	}
	*s = connSlot{
		fd: -1, gen: s.gen + 1, acc: acc, sendq: s.sendq,
		msg: s.msg, iov: s.iov, sa: s.sa,
	}
	w.free = append(w.free, idx)
	w.nconns--
}

// live returns slot idx if it is still at generation gen.
func (w *Worker) live(idx, gen uint32) *connSlot {
	if int(idx) >= len(w.conns) {
		w.stats.unknownTags.Add(1)
		return nil
	}
	s := &w.conns[idx]
	if s.gen != gen || s.state == connFree {
		w.stats.staleCompletions.Add(1)
		return nil
	}
	return s
}
