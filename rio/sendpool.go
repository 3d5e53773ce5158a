//go:build linux

package rio

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// sendPool is a worker's memory for queued sends: slots of equal size in one
// anonymous mapping, outside the Go heap because the kernel reads them after
// the sendmsg is submitted. Owner: the worker's thread. Freed by close, once
// nothing is in flight.
type sendPool struct {
	mem  []byte
	size int
	free []uint32 // free slots, used as a stack
}

func (p *sendPool) init(slots, size int) error {
	mem, err := unix.Mmap(-1, 0, slots*size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return fmt.Errorf("rio: send pool: mmap %d bytes: %w", slots*size, err)
	}
	p.mem, p.size = mem, size
	p.free = make([]uint32, slots)
	for i := range p.free {
		p.free[i] = uint32(slots - 1 - i)
	}
	return nil
}

func (p *sendPool) close() {
	if p.mem != nil {
		unix.Munmap(p.mem)
		p.mem = nil
	}
}

func (p *sendPool) available() int { return len(p.free) }

// slots is the pool's size in slots.
func (p *sendPool) slots() int { return len(p.mem) / p.size }

func (p *sendPool) get() uint32 {
	s := p.free[len(p.free)-1]
	p.free = p.free[:len(p.free)-1]
	return s
}

func (p *sendPool) put(slot uint32) { p.free = append(p.free, slot) }

// slot returns the bytes of slot.
func (p *sendPool) slot(slot uint32) []byte {
	off := int(slot) * p.size
	return p.mem[off : off+p.size : off+p.size]
}

// seg is a run of queued bytes, [off, off+n) of one pool slot or, when rx
// is set, of the receive buffer whose id is slot (a forwarded buffer), or,
// when ext is set, of the caller's memory at ext (Conn.SendBorrowed).
type seg struct {
	slot uint32
	off  uint32
	n    uint32
	rx   bool
	ext  unsafe.Pointer
}

// segQueue is a FIFO of segments that reuses its backing array.
type segQueue struct {
	buf  []seg
	head int
}

func (q *segQueue) len() int     { return len(q.buf) - q.head }
func (q *segQueue) front() *seg  { return &q.buf[q.head] }
func (q *segQueue) at(i int) seg { return q.buf[q.head+i] }

// push appends s, first sliding the live segments down when the array is
// full and its front is spent, so a queue that never empties stays bounded.
func (q *segQueue) push(s seg) {
	if q.head > 0 && len(q.buf) == cap(q.buf) {
		n := copy(q.buf, q.buf[q.head:])
		clear(q.buf[n:]) // no spent entry keeps borrowed memory reachable
		q.buf, q.head = q.buf[:n], 0
	}
	q.buf = append(q.buf, s)
}

// back returns the last segment, or nil.
func (q *segQueue) back() *seg {
	if q.len() == 0 {
		return nil
	}
	return &q.buf[len(q.buf)-1]
}

// popBack and pop clear what they drop, so no borrowed memory is kept
// reachable by a spent entry.
func (q *segQueue) popBack() {
	q.buf[len(q.buf)-1] = seg{}
	q.buf = q.buf[:len(q.buf)-1]
}

func (q *segQueue) pop() {
	q.buf[q.head] = seg{}
	q.head++
	if q.head == len(q.buf) {
		q.buf, q.head = q.buf[:0], 0
	}
}
