//go:build linux

package rio

import (
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/ringline-go/ringline/internal/offheap"
)

// Forwarding: a handler may send bytes OnData was given straight out of the
// receive buffer they arrived in, without copying them into the send pool
// (the Rust crate's forward_recv_buf). The buffer stays out of the receive
// ring until every send holding part of it has completed; the bytes count
// against the sending connection's budget like copied ones.

// rxBuf is the receive buffer whose bytes OnData is being handed, if any.
type rxBuf struct {
	id   uint16
	data []byte // the filled part; nil when OnData is not reading a buffer
}

// Forward queues p, part of the data the running OnData call was given, to
// be sent after the connection's earlier sends, taking it straight from the
// receive buffer it arrived in rather than copying it. The connection may be
// another one of the same worker (a proxy). p must not be changed
// afterwards. Bytes that are not in a receive buffer (accumulated input, or
// any other slice) are copied as Send would. The message is taken whole or
// not at all, with Send's errors; a refusal from OnData pauses the
// connection the same way.
func (c Conn) Forward(p []byte) error {
	s, err := c.sendable()
	if err != nil {
		return err
	}
	r, err := c.w.forward(s, c.idx, p)
	c.w.noteRefusal(r)
	return err
}

// forward queues p as a segment of the receive buffer being delivered, or
// copies it when it lies elsewhere, or when holding one more buffer would
// take this connection past its share of the receive buffers (its send
// budget's worth of whole buffers) or the worker past half of them: small
// forwards to a peer that does not read must not drain the receive ring
// for every other connection.
func (w *Worker) forward(s *connSlot, idx uint32, p []byte) (want, error) {
	if s.tls != nil {
		return w.tlsSend(s, idx, p) // the bytes must be encrypted: a copy
	}
	off, ok := w.inRx(p)
	if !ok || s.held >= w.heldCap || 2*w.held >= len(w.rxRefs) {
		return w.send(s, idx, p)
	}
	if len(p) > w.budget {
		return w.send(s, idx, p) // refused as too large, with its message
	}
	if s.queued+len(p) > w.budget {
		w.stats.sendBudgetExhausted.Add(1)
		return want{queued: w.budget - len(p), on: connRef{idx, s.gen}, set: true}, ErrSendBudgetExhausted
	}
	s.queued += len(p)
	s.sendq.push(seg{slot: uint32(w.rx.id), off: uint32(off), n: uint32(len(p)), rx: true})
	w.rxRefs[w.rx.id]++
	s.held++
	w.held++
	w.stats.forwarded.Add(uint64(len(p)))
	w.markDirty(s, idx)
	return want{}, nil
}

// inRx reports whether p lies inside the receive buffer being delivered,
// and at which offset.
func (w *Worker) inRx(p []byte) (int, bool) { return inside(p, w.rx.data) }

// inside reports whether p lies inside buf, and at which offset.
func inside(p, buf []byte) (int, bool) {
	if len(p) == 0 || len(buf) == 0 {
		return 0, false
	}
	base := uintptr(unsafe.Pointer(unsafe.SliceData(buf)))
	at := uintptr(unsafe.Pointer(unsafe.SliceData(p)))
	if at < base || at+uintptr(len(p)) > base+uintptr(len(buf)) {
		return 0, false
	}
	return int(at - base), true
}

// releaseRx gives receive buffer id back to the ring unless a queued send
// still holds part of it.
func (w *Worker) releaseRx(id uint16) {
	if w.rxRefs[id] == 0 {
		w.be.Release(id)
		w.freed = true
	}
}

// retire frees the memory of a segment of s that was sent or dropped.
func (w *Worker) retire(s *connSlot, g seg) {
	if g.ext != nil { // the caller's memory: nothing to free
		return
	}
	if !g.rx {
		w.pool.put(g.slot)
		return
	}
	s.held--
	w.held--
	id := uint16(g.slot)
	w.rxRefs[id]--
	if w.rxRefs[id] == 0 && (w.rx.data == nil || w.rx.id != id) {
		w.be.Release(id) // the buffer being delivered is released after OnData
		w.freed = true
	}
}

// iovec points iov, in the worker's arena, at segment g: in the send
// pool, a receive buffer or the caller's pinned memory (offheap.SetIovec
// says why the address goes in without a write barrier).
func (w *Worker) iovec(iov *unix.Iovec, g seg) {
	var p unsafe.Pointer
	switch {
	case g.ext != nil:
		p = unsafe.Add(g.ext, g.off)
	case g.rx:
		p = unsafe.Pointer(&w.be.Buffer(uint16(g.slot))[g.off])
	default:
		p = unsafe.Pointer(&w.pool.mem[int(g.slot)*w.pool.size+int(g.off)])
	}
	offheap.SetIovec(iov, p, int(g.n))
}
