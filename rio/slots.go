//go:build linux

package rio

import (
	"github.com/ringline-go/ringline/internal/offheap"
)

// slotChunkSize is how many connection slots a worker adds at a time.
const slotChunkSize = 256

// slotMem is each slot's off-heap memory: a msghdr, its iovecs, a sockaddr.
const slotMem = msghdrSize + maxIovecs*iovecSize + sockaddrSize

// slotTable is a worker's connection slots, taken in chunks as connections
// arrive, up to Config.MaxConns: a capacity never used costs neither Go
// heap nor off-heap memory. A slot never moves once made, so pointers to it
// stay valid. Owner: the worker's thread.
type slotTable struct {
	chunks []*slotChunk
	free   []uint32 // free slot indexes, used as a stack
	max    int      // Config.MaxConns
}

// slotChunk is slotChunkSize slots and the off-heap memory they use,
// unmapped by slotTable.close.
type slotChunk struct {
	slots [slotChunkSize]connSlot
	mem   *offheap.Arena
}

// at returns slot idx, or nil past the slots made so far.
func (t *slotTable) at(idx uint32) *connSlot {
	c := int(idx / slotChunkSize)
	if c >= len(t.chunks) {
		return nil
	}
	return &t.chunks[c].slots[idx%slotChunkSize]
}

// made is the number of slots made so far.
func (t *slotTable) made() int { return len(t.chunks) * slotChunkSize }

// take returns a free slot, making a chunk when none is free, or false at
// Config.MaxConns or when the chunk's memory cannot be mapped.
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
	mem, err := offheap.New(n * slotMem)
	if err != nil {
		return false
	}
	c := &slotChunk{mem: mem}
	for i := n - 1; i >= 0; i-- {
		s := &c.slots[i]
		s.fd = -1
		s.msg, s.iov, _ = mem.Msghdr(maxIovecs) // sized above: cannot fail
		s.sa, _ = mem.Alloc(sockaddrSize, 8)
		t.free = append(t.free, uint32(base+i)) // the chunk's first slot on top
	}
	t.chunks = append(t.chunks, c)
	return true
}

// put returns slot idx to the free list.
func (t *slotTable) put(idx uint32) { t.free = append(t.free, idx) }

// close unmaps every chunk's memory; nothing may be in flight.
func (t *slotTable) close() {
	for _, c := range t.chunks {
		c.mem.Close()
	}
	t.chunks, t.free = nil, nil
}
