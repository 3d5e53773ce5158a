//go:build linux

package rio

import (
	"golang.org/x/sys/unix"

	"github.com/ringline-go/ringline/internal/offheap"
)

// slotChunkSize is how many connection slots a worker adds at a time.
const slotChunkSize = 256

// slotTable is a worker's connection slots, taken in chunks as connections
// arrive, up to Config.MaxConns: a capacity never used costs no memory. A
// slot never moves once made, so pointers to it stay valid. Owner: the
// worker's thread.
type slotTable struct {
	chunks []*slotChunk
	n      int      // slots made: the last chunk may be partly used
	free   []uint32 // free slot indexes, used as a stack
	max    int      // Config.MaxConns
}

// slotChunk is slotChunkSize slots.
type slotChunk struct {
	slots [slotChunkSize]connSlot
}

// at returns slot idx, or nil past the slots made so far.
func (t *slotTable) at(idx uint32) *connSlot {
	if int(idx) >= t.n {
		return nil
	}
	return &t.chunks[idx/slotChunkSize].slots[idx%slotChunkSize]
}

// made is the number of slots made so far.
func (t *slotTable) made() int { return t.n }

// take returns a free slot, making a chunk when none is free, or false at
// Config.MaxConns.
func (t *slotTable) take() (uint32, *connSlot, bool) {
	if len(t.free) == 0 && !t.grow() {
		return 0, nil, false
	}
	idx := t.free[len(t.free)-1]
	t.free = t.free[:len(t.free)-1]
	return idx, t.at(idx), true
}

// grow makes the next chunk, holding at most max slots in all.
func (t *slotTable) grow() bool {
	base := t.made()
	n := min(slotChunkSize, t.max-base)
	if n <= 0 {
		return false
	}
	c := &slotChunk{}
	for i := n - 1; i >= 0; i-- {
		c.slots[i].fd = -1
		t.free = append(t.free, uint32(base+i)) // the chunk's first slot on top
	}
	t.chunks = append(t.chunks, c)
	t.n += n
	return true
}

// put returns slot idx to the free list.
func (t *slotTable) put(idx uint32) { t.free = append(t.free, idx) }

// close drops every slot; nothing may be in flight.
func (t *slotTable) close() { t.chunks, t.free, t.n = nil, nil, 0 }

// msgBlock is the off-heap memory of one sendmsg or connect in flight: the
// msghdr and its iovecs, and a sockaddr. A connection holds one only while
// it has sends queued or a connect in flight, so idle connections cost none.
type msgBlock struct {
	msg *unix.Msghdr
	iov []unix.Iovec
	sa  []byte
}

// msgBlockMem is one block's size in its mapping.
const msgBlockMem = msghdrSize + maxIovecs*iovecSize + sockaddrSize

// msgPool hands out msgBlocks, mapping them slotChunkSize at a time as
// needed and keeping them until close. Owner: the worker's thread.
type msgPool struct {
	maps []*offheap.Arena
	free []*msgBlock
}

// get returns a free block, or an error when no memory can be mapped.
func (p *msgPool) get() (*msgBlock, error) {
	if len(p.free) == 0 {
		mem, err := offheap.New(slotChunkSize * msgBlockMem)
		if err != nil {
			return nil, err
		}
		p.maps = append(p.maps, mem)
		for range slotChunkSize {
			b := &msgBlock{}
			b.msg, b.iov, _ = mem.Msghdr(maxIovecs) // sized above: cannot fail
			b.sa, _ = mem.Alloc(sockaddrSize, 8)
			p.free = append(p.free, b)
		}
	}
	b := p.free[len(p.free)-1]
	p.free = p.free[:len(p.free)-1]
	return b, nil
}

// put returns a block no operation uses any more.
func (p *msgPool) put(b *msgBlock) { p.free = append(p.free, b) }

// close unmaps every block; nothing may be in flight.
func (p *msgPool) close() {
	for _, m := range p.maps {
		m.Close()
	}
	p.maps, p.free = nil, nil
}
