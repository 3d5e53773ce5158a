//go:build linux

package rio

import (
	"encoding/binary"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/ringline-go/ringline/internal/backend"
)

// Work from other goroutines: a bounded queue of functions per worker and a
// notify flag, both announced through the worker's eventfd. Many wakes
// before the worker reads the eventfd cost one write: a flag, set with a
// compare-and-swap, says a wake is already on its way.

// postQueue is a bounded multi-producer queue of functions for one worker.
type postQueue struct {
	w       *Worker
	mu      sync.Mutex
	fns     []func(*Worker) // guarded by mu
	cap     int
	closed  bool         // guarded by mu: the worker has stopped taking work
	n       atomic.Int32 // len(fns), read without the lock by the worker
	notify  atomic.Bool  // a Waker fired since the last OnNotify
	waking  atomic.Bool  // an eventfd write is pending
	drained []func(*Worker)
}

func (q *postQueue) init(capacity int, w *Worker) {
	q.w, q.cap = w, capacity
	q.fns = make([]func(*Worker), 0, capacity)
}

// post queues fn, or refuses it when the queue is full or the worker gone.
func (q *postQueue) post(fn func(*Worker)) error {
	q.mu.Lock()
	switch {
	case q.closed:
		q.mu.Unlock()
		return ErrServerClosed
	case len(q.fns) == q.cap:
		q.mu.Unlock()
		return ErrPostQueueFull
	}
	q.fns = append(q.fns, fn)
	q.n.Add(1)
	q.mu.Unlock()
	q.wake()
	return nil
}

// wake makes the worker's blocked Wait return, once per burst of calls.
func (q *postQueue) wake() {
	if q.waking.CompareAndSwap(false, true) {
		var one [8]byte
		binary.NativeEndian.PutUint64(one[:], 1)
		q.mu.Lock() // the eventfd is closed only after close, under the lock
		if !q.closed {
			unix.Write(q.w.wakeFd, one[:]) // EAGAIN means the counter is already non-zero
		}
		q.mu.Unlock()
	}
}

// close refuses further posts; it returns what was still queued.
func (q *postQueue) close() []func(*Worker) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	fns := q.fns
	q.fns = nil
	return fns
}

// armWake queues the read of the eventfd that wakes the worker.
func (w *Worker) armWake() {
	if err := w.be.WakeRead(w.wakeFd, w.wakeBuf, userData(opWake, 0, 0)); err != nil {
		w.logError("wake read", err)
	}
}

// onWake re-arms the eventfd read; the work it announced runs in runPosted.
func (w *Worker) onWake(c *backend.Completion) {
	w.posts.waking.Store(false)
	if c.Res < 0 && c.Res != -int32(unix.ECANCELED) {
		w.logError("wake read", unix.Errno(-c.Res))
	}
	w.armWake()
}

// runPosted runs the functions queued by other goroutines, then OnNotify
// if a Waker fired.
func (w *Worker) runPosted() {
	q := &w.posts
	if q.n.Load() > 0 {
		q.mu.Lock()
		q.drained, q.fns = q.fns, q.drained[:0]
		q.n.Store(0)
		q.mu.Unlock()
		for i, fn := range q.drained {
			q.drained[i] = nil
			w.callFunc("posted function", func() { fn(w) })
		}
	}
	if q.notify.Swap(false) {
		w.callWorker("OnNotify", w.h.OnNotify)
	}
}

// Waker fires a worker's OnNotify from any goroutine.
type Waker struct{ q *postQueue }

// Wake asks for OnNotify to run on the worker soon. Safe for concurrent
// use; calls made before OnNotify runs are coalesced.
func (k Waker) Wake() {
	k.q.notify.Store(true)
	k.q.wake()
}
