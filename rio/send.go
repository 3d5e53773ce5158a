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

// send queues p on the connection, whole or not at all.
func (w *Worker) send(s *connSlot, idx uint32, p []byte) error {
	if len(p) == 0 {
		return nil
	}
	room := w.tailRoom(s)
	if rest := len(p) - room; rest > 0 {
		need := (rest + w.pool.size - 1) / w.pool.size
		if need > w.pool.slots() {
			return fmt.Errorf("%w: %d bytes need %d slots of %d, the pool has %d", ErrSendTooLarge, len(p), need, w.pool.size, w.pool.slots())
		}
		if need > w.pool.available() {
			w.exhausted(need)
			return ErrSendPoolExhausted
		}
	}
	w.queue(s, idx, p, room)
	return nil
}

// sendSome queues as much of p as the pool takes.
func (w *Worker) sendSome(s *connSlot, idx uint32, p []byte) (int, error) {
	room := w.tailRoom(s)
	n := min(len(p), room+w.pool.available()*w.pool.size)
	w.queue(s, idx, p[:n], room)
	if n < len(p) {
		w.exhausted(1)
		return n, ErrSendPoolExhausted
	}
	return n, nil
}

// tailRoom is the free space after the last queued segment, in its slot.
func (w *Worker) tailRoom(s *connSlot) int {
	if tail := s.sendq.back(); tail != nil {
		return w.pool.size - int(tail.off+tail.n)
	}
	return 0
}

// exhausted counts a refusal and, inside OnData, notes the slots it needed:
// if OnData then leaves bytes unconsumed, its connection waits for them.
func (w *Worker) exhausted(need int) {
	w.stats.sendPoolExhausted.Add(1)
	if w.delivering != nil {
		w.refused = max(w.refused, need)
	}
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
	if !s.dirty {
		s.dirty = true
		w.dirty = append(w.dirty, idx)
	}
}

// issueSends starts a sendmsg for each listed connection that has queued
// bytes and none in flight.
func (w *Worker) issueSends() {
	for _, idx := range w.dirty {
		s := &w.conns[idx]
		s.dirty = false
		if s.state >= connOpen && s.state != connFinal && !s.sending && s.sendq.len() > 0 {
			w.issueSend(s, idx)
		}
	}
	w.dirty = w.dirty[:0]
}

// issueSend hands the first maxIovecs queued segments to one sendmsg.
func (w *Worker) issueSend(s *connSlot, idx uint32) {
	n := min(s.sendq.len(), maxIovecs)
	for i := 0; i < n; i++ {
		w.pool.iovec(&s.iov[i], s.sendq.at(i))
	}
	s.msg.Iov = &s.iov[0]
	s.msg.SetIovlen(n)
	if err := w.be.SendMsg(s.fd, s.msg, userData(opSend, idx, s.gen)); err != nil {
		w.closeNow(s, idx, err)
		return
	}
	s.sending, s.flight = true, n
}

// onSend handles the completion of a sendmsg.
func (w *Worker) onSend(c *backend.Completion, idx, gen uint32) {
	s := w.live(idx, gen)
	if s == nil {
		return
	}
	s.sending, s.sendCancel = false, false
	if c.Res == -int32(syscall.EAGAIN) && s.state != connFinal {
		s.flight = 0
		if err := w.be.PollOut(s.fd, userData(opPollOut, idx, gen)); err != nil {
			w.closeNow(s, idx, err)
			return
		}
		w.stats.pollOutWaits.Add(1)
		s.sending, s.pollOut = true, true
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
	if s.opened {
		w.callSent(s, idx, n)
	}
	w.afterSend(s, idx)
}

// afterSend continues with the queue, or with the close waiting for it.
func (w *Worker) afterSend(s *connSlot, idx uint32) {
	switch {
	case s.state == connFinal:
	case s.sendq.len() > 0:
		w.issueSend(s, idx)
	case s.state == connOpen:
		w.maybeFin(s, idx)
	default:
		w.advanceClose(s, idx)
	}
}

// consume retires n sent bytes from the front of the queue, returning
// emptied slots to the pool.
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
		w.pool.put(f.slot)
		s.sendq.pop()
	}
}

// onPollOut resumes a send once the socket is writable.
func (w *Worker) onPollOut(c *backend.Completion, idx, gen uint32) {
	s := w.live(idx, gen)
	if s == nil {
		return
	}
	s.sending, s.pollOut, s.sendCancel = false, false, false
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

// dropUnsent returns the slots of the segments not in the kernel's hands.
func (w *Worker) dropUnsent(s *connSlot) {
	for s.sendq.len() > s.flight {
		w.pool.put(s.sendq.back().slot)
		s.sendq.popBack()
	}
	s.queued = 0
}
