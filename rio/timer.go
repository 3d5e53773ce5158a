//go:build linux

package rio

import (
	"fmt"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/ringline-go/ringline/internal/backend"
	"github.com/ringline-go/ringline/internal/offheap"
)

// Timers: each is one timeout operation at an absolute CLOCK_MONOTONIC
// deadline, from a bounded table of slots per worker. Its function runs on
// the worker when the timeout completes with -ETIME, unless Stop came first.

// timerSlot is one timer. Owner: the worker's thread.
type timerSlot struct {
	gen     uint32
	fn      func()
	armed   bool // the timeout is in the kernel
	stopped bool // Stop was called: the function must not run
}

// timerTable holds a worker's timers and their deadlines. The deadlines are
// off-heap (carved from the worker's arena) because the backend reads them
// after the call that queued them returns.
type timerTable struct {
	slots []timerSlot
	ts    []unix.Timespec
	free  []uint32
}

func (t *timerTable) init(a *offheap.Arena, n int) error {
	mem, err := a.Alloc(n*int(unsafe.Sizeof(unix.Timespec{})), 8)
	if err != nil {
		return err
	}
	t.ts = unsafe.Slice((*unix.Timespec)(unsafe.Pointer(&mem[0])), n)
	t.slots = make([]timerSlot, n)
	t.free = make([]uint32, n)
	for i := range t.free {
		t.free[i] = uint32(n - 1 - i)
	}
	return nil
}

// Timer is a handle to a pending timer of a worker. The zero Timer is valid
// and Stop on it does nothing.
type Timer struct {
	w   *Worker
	idx uint32
	gen uint32
}

// AfterFunc runs fn on the worker once d has passed. It fails with
// ErrTimerPoolExhausted when all Config.TimerSlots timers are pending.
func (w *Worker) AfterFunc(d time.Duration, fn func()) (Timer, error) {
	return w.timerAt(monoNow()+max(d, 0).Nanoseconds(), fn)
}

// At runs fn on the worker at deadline t (measured on the monotonic clock
// from now, so a wall-clock step does not move it).
func (w *Worker) At(t time.Time, fn func()) (Timer, error) {
	return w.timerAt(monoNow()+max(time.Until(t), 0).Nanoseconds(), fn)
}

// timerAt arms a timer at deadline, in CLOCK_MONOTONIC nanoseconds.
func (w *Worker) timerAt(deadline int64, fn func()) (Timer, error) {
	t := &w.timers
	if len(t.free) == 0 {
		return Timer{}, fmt.Errorf("%w: %d timers pending", ErrTimerPoolExhausted, len(t.slots))
	}
	idx := t.free[len(t.free)-1]
	s := &t.slots[idx]
	t.ts[idx] = unix.NsecToTimespec(deadline)
	if err := w.be.Timeout(&t.ts[idx], userData(opTimer, idx, s.gen)); err != nil {
		return Timer{}, err
	}
	t.free = t.free[:len(t.free)-1]
	s.fn, s.armed, s.stopped = fn, true, false
	return Timer{w, idx, s.gen}, nil
}

// Stop keeps the timer's function from running. It reports whether it did:
// false when the function already ran, or the timer was stopped before.
// Call it on the timer's worker.
func (t Timer) Stop() bool {
	if t.w == nil {
		return false
	}
	s := &t.w.timers.slots[t.idx]
	if s.gen != t.gen || !s.armed || s.stopped {
		return false
	}
	s.stopped = true
	t.w.cancel(userData(opTimer, t.idx, t.gen))
	return true
}

// onTimer runs a timer's function if it expired and was not stopped, and
// frees its slot.
func (w *Worker) onTimer(c *backend.Completion, idx, gen uint32) {
	t := &w.timers
	if int(idx) >= len(t.slots) || t.slots[idx].gen != gen || !t.slots[idx].armed {
		w.stats.staleCompletions.Add(1)
		return
	}
	s := &t.slots[idx]
	fn, fire := s.fn, c.Res == -int32(syscall.ETIME) && !s.stopped
	*s = timerSlot{gen: s.gen + 1}
	t.free = append(t.free, idx)
	if fire {
		w.stats.timersFired.Add(1)
		w.callFunc("timer", fn)
	}
}

// monoNow reads CLOCK_MONOTONIC, the clock of the backends' deadlines.
func monoNow() int64 {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return ts.Nano()
}
