//go:build linux

package rio

import (
	"fmt"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/ringline-go/ringline/internal/backend"
)

// Sending: Send copies into the worker's send pool and queues segments on
// the connection. At the end of the iteration each connection with queued
// bytes and nothing in flight gets one sendmsg gathering up to maxIovecs
// segments. A short send resumes where it stopped; -EAGAIN waits for POLLOUT
// and resumes; order is kept because only one send per connection is ever
// in flight.

const (
	maxIovecs    = 32
	msghdrSize   = int(unsafe.Sizeof(unix.Msghdr{}))
	iovecSize    = int(unsafe.Sizeof(unix.Iovec{}))
	sockaddrSize = int(unsafe.Sizeof(unix.RawSockaddrAny{}))
)

// send queues p on the connection, whole or not at all. A refusal says
// what the send needs, for OnData's caller to pause the connection on.
func (w *Worker) send(s *connSlot, idx uint32, p []byte) (want, error) {
	if len(p) == 0 {
		return want{}, nil
	}
	if r, err := w.admit(s, idx, len(p)); err != nil {
		return r, err
	}
	w.queue(s, idx, p, w.tailRoom(s))
	return want{}, nil
}

// admit checks that n more bytes fit the connection's budget and the pool;
// a refusal says what they need.
func (w *Worker) admit(s *connSlot, idx uint32, n int) (want, error) {
	if n > w.budget {
		return want{}, fmt.Errorf("%w: %d bytes, the connection's send budget is %d and the pool %d slots of %d",
			ErrSendTooLarge, n, w.budget, w.pool.slots(), w.pool.size)
	}
	need := 0
	if rest := n - w.tailRoom(s); rest > 0 {
		need = (rest + w.pool.size - 1) / w.pool.size
	}
	switch {
	case need > w.pool.available():
		w.stats.sendPoolExhausted.Add(1)
		return want{slots: need, queued: w.budget - n, on: connRef{idx, s.gen}, set: true}, ErrSendPoolExhausted
	case s.queued+n > w.budget:
		w.stats.sendBudgetExhausted.Add(1)
		return want{queued: w.budget - n, on: connRef{idx, s.gen}, set: true}, ErrSendBudgetExhausted
	}
	return want{}, nil
}

// sendSome queues as much of p as the pool and the connection's budget take.
func (w *Worker) sendSome(s *connSlot, idx uint32, p []byte) (int, want, error) {
	if s.tls != nil {
		if err := w.tlsReady(s); err != nil {
			return 0, want{}, err
		}
	}
	room := w.tailRoom(s)
	byPool := room + w.pool.available()*w.pool.size
	byBudget := max(w.budget-s.queued, 0)
	var n int
	if s.tls != nil {
		n = min(len(p), tlsFits(min(byPool, byBudget)))
		if err := w.tlsWrite(s, idx, p[:n]); err != nil {
			return 0, want{}, err
		}
	} else {
		n = min(len(p), byPool, byBudget)
		w.queue(s, idx, p[:n], room)
	}
	switch {
	case n == len(p):
		return n, want{}, nil
	case byPool <= byBudget:
		w.stats.sendPoolExhausted.Add(1)
		return n, want{slots: 1, queued: w.budget - 1, on: connRef{idx, s.gen}, set: true}, ErrSendPoolExhausted
	}
	// A byte stream resumes once half its budget is free, not at every
	// byte sent, so a paused stream is not re-armed for each small send.
	w.stats.sendBudgetExhausted.Add(1)
	return n, want{queued: w.budget / 2, on: connRef{idx, s.gen}, set: true}, ErrSendBudgetExhausted
}

// tailRoom is the free space after the last queued segment, in its pool
// slot (none after a forwarded receive buffer).
func (w *Worker) tailRoom(s *connSlot) int {
	if tail := s.sendq.back(); tail != nil && !tail.rx && tail.ext == nil {
		return w.pool.size - int(tail.off+tail.n)
	}
	return 0
}

// queue copies p into the tail room of the last segment and then into new
// slots; the caller checked that they suffice.
func (w *Worker) queue(s *connSlot, idx uint32, p []byte, room int) {
	if len(p) == 0 {
		return
	}
	s.queued += len(p)
	if room > 0 {
		tail := s.sendq.back()
		n := copy(w.pool.slot(tail.slot)[tail.off+tail.n:], p)
		tail.n += uint32(n)
		p = p[n:]
	}
	for len(p) > 0 {
		slot := w.pool.get()
		n := copy(w.pool.slot(slot), p)
		s.sendq.push(seg{slot: slot, n: uint32(n)})
		p = p[n:]
	}
	w.markDirty(s, idx)
}

// markDirty lists the connection for issueSends.
func (w *Worker) markDirty(s *connSlot, idx uint32) {
	if !s.is(markDirty) {
		s.mark(markDirty)
		w.dirty = append(w.dirty, idx)
	}
}

// issueSends starts a sendmsg for each listed connection that has queued
// bytes and none in flight.
func (w *Worker) issueSends() {
	for i := 0; i < len(w.dirty); i++ { // a close below may list another
		idx := w.dirty[i]
		s := w.conns.at(idx)
		s.unmark(markDirty)
		if s.state >= connOpen && s.state != connFinal && !s.has(inSend) && s.sendq.len() > 0 {
			w.issueSend(s, idx)
		}
	}
	w.dirty = w.dirty[:0]
}

// issueSend hands the first maxIovecs queued segments to one sendmsg.
func (w *Worker) issueSend(s *connSlot, idx uint32) {
	if s.mb == nil {
		mb, err := w.msgs.get()
		if err != nil {
			w.closeNow(s, idx, err)
			return
		}
		s.mb = mb
	}
	n := min(s.sendq.len(), maxIovecs)
	for i := 0; i < n; i++ {
		g := s.sendq.at(i)
		if g.ext != nil {
			s.pinner.Pin(g.ext)
		}
		w.iovec(&s.mb.iov[i], g)
	}
	s.mb.msg.Iov = &s.mb.iov[0]
	s.mb.msg.SetIovlen(n)
	if err := w.be.SendMsg(s.fd, s.mb.msg, userData(opSend, idx, s.gen)); err != nil {
		s.pinner.Unpin()
		w.closeNow(s, idx, err)
		return
	}
	s.set(inSend)
	s.flight = n
}

// onSend handles the completion of a sendmsg.
func (w *Worker) onSend(c *backend.Completion, idx, gen uint32) {
	s := w.live(idx, gen)
	if s == nil {
		return
	}
	s.clear(inSend | inSendCancel)
	s.pinner.Unpin() // the kernel is done with the flight's memory
	if c.Res == -int32(syscall.EAGAIN) && s.state != connFinal {
		s.flight = 0
		if err := w.be.PollOut(s.fd, userData(opPollOut, idx, gen)); err != nil {
			w.closeNow(s, idx, err)
			return
		}
		w.stats.pollOutWaits.Add(1)
		s.set(inSend | inPollOut)
		return
	}
	if c.Res < 0 {
		s.flight = 0
		if s.state == connFinal {
			w.dropUnsent(s)
			w.finish(s, idx)
		} else {
			w.closeNow(s, idx, opError("write", s, syscall.Errno(-c.Res)))
		}
		return
	}
	n := int(c.Res)
	w.consume(s, n)
	w.stats.bytesOut.Add(uint64(n))
	if s.state == connFinal {
		w.dropUnsent(s)
		w.finish(s, idx)
		return
	}
	if s.is(markOpened) {
		w.callSent(s, idx, n)
	}
	w.afterSend(s, idx)
}

// afterSend continues with the queue, or with the close waiting for it.
func (w *Worker) afterSend(s *connSlot, idx uint32) {
	if s.state != connFinal && s.sendq.len() > 0 {
		w.issueSend(s, idx)
		return
	}
	w.releaseMsg(s)
	switch {
	case s.state == connFinal:
	case s.state == connOpen:
		w.maybeFin(s, idx)
	default:
		w.advanceClose(s, idx)
	}
}

// releaseMsg gives the connection's msghdr block back once neither a send
// nor a connect is in flight.
func (w *Worker) releaseMsg(s *connSlot) {
	if s.mb != nil && !s.has(inSend|inConnect) {
		w.msgs.put(s.mb)
		s.mb = nil
	}
}

// consume retires n sent bytes from the front of the queue, returning
// emptied slots to the pool and forwarded buffers to the receive ring.
func (w *Worker) consume(s *connSlot, n int) {
	s.queued -= n
	s.flight = 0
	for n > 0 {
		f := s.sendq.front()
		if n < int(f.n) {
			f.off += uint32(n)
			f.n -= uint32(n)
			return
		}
		n -= int(f.n)
		w.retire(s, *f)
		s.sendq.pop()
	}
}

// onPollOut resumes a send once the socket is writable.
func (w *Worker) onPollOut(c *backend.Completion, idx, gen uint32) {
	s := w.live(idx, gen)
	if s == nil {
		return
	}
	s.clear(inSend | inPollOut | inSendCancel)
	switch {
	case s.state == connFinal:
		w.dropUnsent(s)
		w.finish(s, idx)
	case c.Res < 0:
		w.closeNow(s, idx, opError("write", s, syscall.Errno(-c.Res)))
	default:
		w.afterSend(s, idx)
	}
}

// dropUnsent returns the memory of the segments not in the kernel's hands.
func (w *Worker) dropUnsent(s *connSlot) {
	for s.sendq.len() > s.flight {
		w.retire(s, *s.sendq.back())
		s.sendq.popBack()
	}
	s.queued = 0
}
