//go:build linux

package epoll

import (
	"container/heap"

	"golang.org/x/sys/unix"
)

// timerHeap holds pending timeouts by deadline, with the position of each
// user_data so that Cancel can remove one. Equal deadlines fire in the
// order they were armed.
type timerHeap struct {
	items []timerItem
	index map[uint64]int // user_data -> position in items
	seq   uint64
}

type timerItem struct {
	deadline int64 // CLOCK_MONOTONIC nanoseconds
	seq      uint64
	ud       uint64
}

func (h *timerHeap) Len() int { return len(h.items) }
func (h *timerHeap) Less(i, j int) bool {
	a, b := h.items[i], h.items[j]
	return a.deadline < b.deadline || a.deadline == b.deadline && a.seq < b.seq
}
func (h *timerHeap) Swap(i, j int) {
	h.items[i], h.items[j] = h.items[j], h.items[i]
	h.index[h.items[i].ud] = i
	h.index[h.items[j].ud] = j
}
func (h *timerHeap) Push(x any) {
	it := x.(timerItem)
	h.index[it.ud] = len(h.items)
	h.items = append(h.items, it)
}
func (h *timerHeap) Pop() any {
	it := h.items[len(h.items)-1]
	h.items = h.items[:len(h.items)-1]
	delete(h.index, it.ud)
	return it
}

func (h *timerHeap) add(deadline int64, ud uint64) {
	h.seq++
	heap.Push(h, timerItem{deadline: deadline, seq: h.seq, ud: ud})
}

// remove drops the timer armed with ud, reporting whether there was one.
func (h *timerHeap) remove(ud uint64) bool {
	i, ok := h.index[ud]
	if ok {
		heap.Remove(h, i)
	}
	return ok
}

// next returns the earliest deadline.
func (h *timerHeap) next() (int64, bool) {
	if len(h.items) == 0 {
		return 0, false
	}
	return h.items[0].deadline, true
}

// expire completes every timer whose deadline has passed with -ETIME, in
// deadline order.
func (b *Backend) expire() {
	now := int64(-1)
	for len(b.timers.items) > 0 {
		if now < 0 {
			now = monoNow()
		}
		if b.timers.items[0].deadline > now {
			return
		}
		it := heap.Pop(&b.timers).(timerItem)
		b.complete(it.ud, -int32(unix.ETIME), 0)
	}
}
