//go:build linux && cgo

package ringline

// #include "liburing_shim.h"
import "C"

import (
	"fmt"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// MaxBufRingEntries is the most buffers one provided buffer ring holds.
const MaxBufRingEntries = 32768

// bufEntrySize is sizeof(struct io_uring_buf): addr, len, bid, resv.
const bufEntrySize = 16

// BufRing is a provided buffer ring (Linux 5.19+): a group of equal buffers
// the kernel picks from for multishot receives, reporting the buffer id in
// each completion. Both the ring and the buffers are mmap'd outside the Go
// heap. Buffers go back to the kernel in batches: Add each, then Advance once.
type BufRing struct {
	ring  *Ring  // owner; nil after Close
	group uint16 // buffer group id
	mask  uint16
	size  int
	mem   []byte // struct io_uring_buf[entries]; the tail lives in entry 0's resv
	bufs  []byte // entries * size bytes of buffer memory
	tail  uint16 // next entry to fill; published by Advance
}

// RegisterBufRing maps a ring of entries buffers of bufSize bytes, registers
// it as buffer group group, and hands every buffer to the kernel.
// entries is a power of two up to MaxBufRingEntries.
func (r *Ring) RegisterBufRing(group uint16, entries, bufSize int) (*BufRing, error) {
	return r.RegisterBufRingFirst(group, entries, bufSize, entries)
}

// RegisterBufRingFirst is RegisterBufRing handing the kernel only buffers 0
// to first-1; the caller Adds the others when it wants them used. The
// buffers' memory is mapped but not touched, so a buffer the kernel never
// fills never becomes resident: a caller that provides buffers as demand
// grows keeps its memory to the most it used at once.
func (r *Ring) RegisterBufRingFirst(group uint16, entries, bufSize, first int) (*BufRing, error) {
	switch {
	case r.c == nil:
		return nil, ErrRingClosed
	case entries < 1 || entries > MaxBufRingEntries || entries&(entries-1) != 0:
		return nil, fmt.Errorf("ringline: buffer ring: %d entries, want a power of two up to %d", entries, MaxBufRingEntries)
	case bufSize < 1 || bufSize > 1<<30:
		return nil, fmt.Errorf("ringline: buffer ring: buffer size %d out of range", bufSize)
	case first < 0 || first > entries:
		return nil, fmt.Errorf("ringline: buffer ring: %d first buffers of %d", first, entries)
	case r.bufRings[group] != nil:
		return nil, fmt.Errorf("ringline: buffer group %d is already registered", group)
	}
	b := &BufRing{ring: r, group: group, mask: uint16(entries - 1), size: bufSize}
	var err error
	if b.mem, err = mmapAnon(entries * bufEntrySize); err == nil {
		b.bufs, err = mmapAnon(entries * bufSize)
	}
	if err == nil {
		ret := C.rl_register_buf_ring(r.c, unsafe.Pointer(&b.mem[0]), C.uint(entries), C.uint(group))
		err = errnoError("register buffer ring", int(ret), "provided buffer rings need Linux 5.19+")
	}
	if err != nil {
		b.unmap()
		return nil, err
	}
	r.bufRings[group] = b
	for bid := 0; bid < first; bid++ {
		b.add(uint16(bid))
	}
	b.Advance()
	return b, nil
}

func mmapAnon(n int) ([]byte, error) {
	mem, err := unix.Mmap(-1, 0, n, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return nil, &Error{Op: "mmap buffer ring", Errno: err.(unix.Errno)}
	}
	return mem, nil
}

// Group returns the buffer group id to submit receives with.
func (b *BufRing) Group() uint16 { return b.group }

// BufSize returns the size of each buffer.
func (b *BufRing) BufSize() int { return b.size }

// Buffer returns the memory of buffer bid. A completion's result says how
// much of it the kernel filled.
func (b *BufRing) Buffer(bid uint16) []byte {
	off := int(bid&b.mask) * b.size
	return b.bufs[off : off+b.size : off+b.size]
}

// Add queues buffer bid for return to the kernel; it becomes visible at the
// next Advance. Return only buffers the kernel handed out, each once.
func (b *BufRing) Add(bid uint16) error {
	if bid > b.mask {
		return fmt.Errorf("%w: buffer id %d, ring has %d", ErrSlotRange, bid, int(b.mask)+1)
	}
	b.add(bid)
	return nil
}

func (b *BufRing) add(bid uint16) {
	e := b.mem[int(b.tail&b.mask)*bufEntrySize:]
	*(*uint64)(unsafe.Pointer(&e[0])) = uint64(uintptr(unsafe.Pointer(&b.bufs[int(bid)*b.size])))
	*(*uint32)(unsafe.Pointer(&e[8])) = uint32(b.size)
	*(*uint16)(unsafe.Pointer(&e[12])) = bid
	b.tail++
}

// Advance publishes every buffer added since the last Advance with one
// store-release of the ring's tail, as io_uring_buf_ring_advance does. The
// 16-bit tail shares an aligned 32-bit word with entry 0's buffer id, which
// only this side writes, so the word is stored whole with sync/atomic.
func (b *BufRing) Advance() {
	word := (*uint32)(unsafe.Pointer(&b.mem[12]))
	halves := *(*[2]uint16)(unsafe.Pointer(word))
	halves[1] = b.tail
	atomic.StoreUint32(word, *(*uint32)(unsafe.Pointer(&halves)))
}

// Close unregisters the group and then unmaps the ring and its buffers; no
// receive may still be using the group. If the kernel refuses to unregister
// (a call from a thread other than the ring's), the memory stays mapped, since
// the kernel may still write to it, and the error says so.
func (b *BufRing) Close() error {
	if b.ring == nil {
		return nil
	}
	ret := int(C.rl_unregister_buf_ring(b.ring.c, C.uint(b.group)))
	delete(b.ring.bufRings, b.group)
	b.ring = nil
	if ret < 0 {
		return errnoError("unregister buffer ring", ret, "its memory is left mapped, as the kernel may still use it")
	}
	b.unmap()
	return nil
}

func (b *BufRing) unmap() {
	for _, m := range [][]byte{b.mem, b.bufs} {
		if m != nil {
			_ = unix.Munmap(m)
		}
	}
	b.mem, b.bufs = nil, nil
}
