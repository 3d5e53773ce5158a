//go:build linux

package rio

import "unsafe"

// SendBorrowed queues as much of p as the connection's send budget takes,
// in order after its earlier sends, without copying it: the kernel reads p
// itself, so a large write costs no copy into the send pool and takes no
// pool slot. It returns how much it took, and ErrSendBudgetExhausted when
// that was less than all of p (called from OnData, the connection pauses
// as for SendSome). The caller lends the memory: p must stay unchanged
// until its bytes are sent, which is when OnSent has reported the bytes
// queued before them and theirs (Queued has fallen to what was queued
// after them: 0 when nothing was), or until OnClose ran. The runtime pins
// p (runtime.Pinner) while a send of its bytes is in flight. Bytes OnData
// was given live in memory the runtime reuses, and a TLS connection's
// must be encrypted: those are copied, as SendSome does, and p is not
// kept (Forward sends OnData's bytes without a copy).
func (c Conn) SendBorrowed(p []byte) (int, error) {
	s, err := c.sendable()
	if err != nil {
		return 0, err
	}
	_, fromAcc := inside(p, s.acc[:cap(s.acc)])
	_, fromRx := c.w.inRx(p)
	if s.tls != nil || fromAcc || fromRx {
		return c.SendSome(p)
	}
	w := c.w
	n := min(len(p), max(w.budget-s.queued, 0), maxSeg)
	if n > 0 {
		s.queued += n
		s.sendq.push(seg{ext: unsafe.Pointer(unsafe.SliceData(p)), n: uint32(n)})
		w.markDirty(s, c.idx)
	}
	if n == len(p) {
		return n, nil
	}
	w.stats.sendBudgetExhausted.Add(1)
	w.noteRefusal(want{queued: w.budget / 2, on: connRef{c.idx, s.gen}, set: true})
	return n, ErrSendBudgetExhausted
}

// maxSeg is the most one segment may hold (its length is 32 bits).
const maxSeg = 1 << 30
