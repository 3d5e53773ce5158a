//go:build linux

package rio

import (
	"fmt"
	"runtime/debug"
)

// PanicError is the cause a connection is closed with when one of its
// callbacks panicked. It matches ErrCallbackPanic.
type PanicError struct {
	Callback string // "OnData", "OnOpen" ...
	Value    any    // what was passed to panic
}

// Error names the callback and the panic value.
func (e *PanicError) Error() string {
	return fmt.Sprintf("rio: %s panicked: %v", e.Callback, e.Value)
}

// Unwrap returns ErrCallbackPanic.
func (e *PanicError) Unwrap() error { return ErrCallbackPanic }

// recovered counts and logs a panic and returns it as an error.
func (w *Worker) recovered(callback string, v any) error {
	w.stats.callbackPanics.Add(1)
	if w.log != nil {
		w.log.Error("rio: callback panicked", "worker", w.id, "callback", callback,
			"panic", fmt.Sprint(v), "stack", string(debug.Stack()))
	}
	return &PanicError{Callback: callback, Value: v}
}

// callWorker runs a worker-level callback; a panic is counted and logged.
func (w *Worker) callWorker(name string, fn func(*Worker)) {
	defer func() {
		if v := recover(); v != nil {
			w.recovered(name, v)
		}
	}()
	fn(w)
}

// callFunc runs a timer or posted function; a panic is counted and logged.
func (w *Worker) callFunc(name string, fn func()) {
	defer func() {
		if v := recover(); v != nil {
			w.recovered(name, v)
		}
	}()
	fn()
}

// callOpen runs OnOpen; a panic closes the connection.
func (w *Worker) callOpen(s *connSlot, idx uint32) {
	defer func() {
		if v := recover(); v != nil {
			w.closeNow(s, idx, w.recovered("OnOpen", v))
		}
	}()
	s.mark(markOpened)
	w.h.OnOpen(Conn{w, idx, s.gen})
}

// callData runs OnData and returns what it consumed, checked against
// len(data), and what the sends it made and were refused need (the zero
// want: none was refused), whichever connection they were made on. A panic
// or an impossible count closes the connection and reports ok false.
func (w *Worker) callData(s *connSlot, idx uint32, data []byte) (n int, refused want, ok bool) {
	outer, outerIn := w.refusals, w.inData
	w.refusals, w.inData = want{}, true
	defer func() {
		refused = w.refusals
		w.refusals, w.inData = outer, outerIn
		if v := recover(); v != nil {
			w.closeNow(s, idx, w.recovered("OnData", v))
			n, ok = 0, false
		}
	}()
	n = w.h.OnData(Conn{w, idx, s.gen}, data)
	if n < 0 || n > len(data) {
		w.reset(s) // what it was given is lost: the peer must not see a clean end
		w.closeNow(s, idx, fmt.Errorf("rio: OnData consumed %d of %d bytes", n, len(data)))
		return 0, want{}, false
	}
	return n, want{}, true
}

// noteRefusal files a refused send's need with the OnData call in progress,
// if any: Send's return value carries it there, so the connection being
// delivered pauses on it even when the send was made on another connection.
func (w *Worker) noteRefusal(r want) {
	if w.inData && r.set {
		w.refusals = w.refusals.merge(r)
	}
}

// callSent runs OnSent; a panic closes the connection.
func (w *Worker) callSent(s *connSlot, idx uint32, n int) {
	defer func() {
		if v := recover(); v != nil {
			w.closeNow(s, idx, w.recovered("OnSent", v))
		}
	}()
	w.h.OnSent(Conn{w, idx, s.gen}, n)
}

// callPeerEOF runs OnPeerEOF; a panic closes the connection.
func (w *Worker) callPeerEOF(h PeerEOFHandler, s *connSlot, idx uint32) {
	defer func() {
		if v := recover(); v != nil {
			w.closeNow(s, idx, w.recovered("OnPeerEOF", v))
		}
	}()
	h.OnPeerEOF(Conn{w, idx, s.gen})
}

// callClose runs OnClose; a panic is counted and logged, nothing more.
func (w *Worker) callClose(s *connSlot, idx uint32, cause error) {
	defer func() {
		if v := recover(); v != nil {
			w.recovered("OnClose", v)
		}
	}()
	w.h.OnClose(Conn{w, idx, s.gen}, cause)
}
