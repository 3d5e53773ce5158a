//go:build linux

package rio

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// TLS in the handler API. crypto/tls has no non-blocking interface, so a
// connection's handshake runs on a goroutine of its own, reading the
// records the worker feeds it through a pipe (tlsPipe) and waiting there,
// never on the worker. When it ends the worker takes over: OnOpen runs, and
// from then on the worker decrypts each receive at once (the pipe answers a
// read with no input left by a temporary error, which crypto/tls passes up
// without failing the connection) and hands OnData the plaintext, and a
// Send encrypts on the worker into the send pool. A graceful close sends
// close_notify before the FIN.

// TLSError is the cause a connection is closed with when TLS failed on it:
// its handshake (the peer's certificate was refused, the peer spoke no TLS,
// the handshake timed out) or a record after it. It matches ErrTLS, and
// errors.As finds crypto/tls's error types in Err.
type TLSError struct {
	Handshake bool  // the handshake failed; OnOpen never ran
	Err       error // what crypto/tls reported
}

// Error says what failed.
func (e *TLSError) Error() string {
	if e.Handshake {
		return "rio: TLS handshake: " + e.Err.Error()
	}
	return "rio: TLS: " + e.Err.Error()
}

// Unwrap returns ErrTLS and the underlying error.
func (e *TLSError) Unwrap() []error { return []error{ErrTLS, e.Err} }

// Bounds of what TLS costs the send pool: crypto/tls writes records of at
// least tlsMinRecord bytes of plaintext (it starts small, about one TCP
// segment, and grows), each with at most tlsRecordOverhead bytes of header,
// nonce, MAC, padding and tag.
const (
	tlsMinRecord      = 1024
	tlsRecordOverhead = 96
	tlsMaxPlaintext   = 16 << 10 // the largest record: one Read's worth
	tlsHandshakeInput = 256 << 10
)

// tlsKeptInput is the most capacity the pipe's input buffer keeps once
// crypto/tls has read it all; a larger one (a handshake's backlog, what a
// pause left) is let go.
const tlsKeptInput = 64 << 10

// tlsSealed bounds the bytes n bytes of plaintext take once encrypted.
func tlsSealed(n int) int { return n + (n/tlsMinRecord+1)*tlsRecordOverhead }

// tlsFits is the most plaintext whose records take at most space bytes.
func tlsFits(space int) int {
	return max(0, (space-tlsRecordOverhead)*tlsMinRecord/(tlsMinRecord+tlsRecordOverhead))
}

// errTLSNotOpen refuses a send on a dialed TLS connection before OnOpen.
var errTLSNotOpen = errors.New("rio: TLS connection: sends begin at OnOpen, after the handshake")

// tlsState is a TLS connection's side of its slot. Owner: the worker,
// but for the pipe and listed.
type tlsState struct {
	conn   *tls.Conn
	pipe   *tlsPipe
	ref    connRef
	open   bool // the handshake succeeded: the worker runs crypto/tls now
	failed bool // a TLS error ended it: no close_notify
	eof    bool // the pump saw the input's end (close_notify or the FIN) and reported it
	listed bool // in the worker's tlsNotes; guarded by its mutex
}

// tlsNotes lists the TLS connections whose handshake goroutine has news
// for the worker: records to send, or the handshake's end.
type tlsNotes struct {
	mu    sync.Mutex
	list  []*tlsState
	spare []*tlsState
	any   atomic.Bool
	wg    sync.WaitGroup // handshake goroutines running
}

// DialTLS dials as Dial does and runs a TLS client handshake over the
// connection with cfg, before OnOpen; OnData sees plaintext. When
// cfg.ServerName is empty the host of address is used (unless
// InsecureSkipVerify is set). Renegotiation is refused, whatever cfg says.
// A failed handshake closes the connection with a *TLSError, through
// OnClose without OnOpen; sends begin at OnOpen.
func (w *Worker) DialTLS(network, address string, timeout time.Duration, cfg *tls.Config) (Conn, error) {
	if cfg == nil {
		return Conn{}, errors.New("rio: DialTLS: nil *tls.Config")
	}
	if !tlsPoolFits(w.cfg) {
		return Conn{}, errors.New("rio: DialTLS: TLS needs Config.SendSlotSize of at least 1 KiB and a send budget of at least 4 KiB")
	}
	cfg = cfg.Clone()
	cfg.Renegotiation = tls.RenegotiateNever // a renegotiation would need a blocking handshake on the worker
	if cfg.ServerName == "" && !cfg.InsecureSkipVerify {
		if host, _, err := net.SplitHostPort(address); err == nil {
			cfg.ServerName = host
		}
	}
	c, err := w.Dial(network, address, timeout)
	if err != nil {
		return c, err
	}
	s, _ := c.slot()
	w.newTLS(s, c.idx, func(p *tlsPipe) *tls.Conn { return tls.Client(p, cfg) })
	return c, nil
}

// newTLS gives the slot its TLS state.
func (w *Worker) newTLS(s *connSlot, idx uint32, wrap func(*tlsPipe) *tls.Conn) {
	t := &tlsState{ref: connRef{idx, s.gen}}
	t.pipe = newTLSPipe(nil, s.remote, func() { w.noteTLS(t) })
	t.conn = wrap(t.pipe)
	s.tls = t
}

// beginHandshake arms the receive of a connected TLS connection and starts
// its handshake goroutine; OnOpen waits for the handshake.
func (w *Worker) beginHandshake(s *connSlot, idx uint32) {
	if s.state != connOpen {
		s.setState(connOpen)
	}
	if sa, err := unix.Getsockname(s.fd); err == nil {
		s.local = sockaddrToAddr(sa)
		s.tls.pipe.local = s.local // before the goroutine starts
	}
	w.armRecv(s, idx)
	if s.state != connOpen {
		return
	}
	t := s.tls
	w.tlsNotes.wg.Add(1)
	go func() {
		defer w.tlsNotes.wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), w.cfg.TLSHandshakeTimeout)
		err := t.conn.HandshakeContext(ctx)
		cancel()
		t.pipe.handshakeDone(err)
		t.pipe.notify()
	}()
}

// noteTLS lists t for the worker and wakes it; from any goroutine.
func (w *Worker) noteTLS(t *tlsState) {
	n := &w.tlsNotes
	n.mu.Lock()
	if !t.listed {
		t.listed = true
		n.list = append(n.list, t)
		n.any.Store(true)
	}
	n.mu.Unlock()
	w.posts.wake()
}

// runTLS sends what the listed handshakes wrote and opens, or closes, the
// connections whose handshake ended.
func (w *Worker) runTLS() {
	n := &w.tlsNotes
	if !n.any.Load() {
		return
	}
	n.mu.Lock()
	list := n.list
	n.list, n.spare = n.spare[:0], nil
	n.any.Store(false)
	for _, t := range list {
		t.listed = false
	}
	n.mu.Unlock()
	for i, t := range list {
		list[i] = nil
		s := w.conns.at(t.ref.idx)
		if s == nil || s.gen != t.ref.gen || s.tls != t || !s.alive() {
			continue
		}
		// The result first: once it is in, so is everything the handshake
		// wrote, which the flush then takes whole.
		done, err := t.pipe.handshakeResult()
		switch {
		case done && !t.open && s.state == connOpen:
			w.handshaken(s, t.ref.idx, err)
		case !s.is(markFinSent):
			w.tlsFlush(s, t.ref.idx)
		}
	}
	n.mu.Lock()
	n.spare = list[:0]
	n.mu.Unlock()
}

// handshaken opens a connection whose handshake succeeded, or closes it
// with the handshake's error.
func (w *Worker) handshaken(s *connSlot, idx uint32, err error) {
	t := s.tls
	if err == nil && !w.tlsFlush(s, idx) { // the handshake's last flight
		return
	}
	if err != nil {
		w.tlsFail(s, idx, &TLSError{Handshake: true, Err: err})
		return
	}
	t.open = true
	t.pipe.sink = func(b []byte) bool { return w.tlsQueue(s, idx, b) }
	w.stats.tlsHandshakes.Add(1)
	w.resumeRecv(s, idx) // if tlsInput held it; OnOpen's own holds come after
	w.callOpen(s, idx)
	if s.state == connOpen {
		w.tlsPump(s, idx) // what arrived behind the handshake
	}
}

// tlsInput takes received records: fed to the handshake, or decrypted
// straight from the receive buffer and delivered at once. Past tlsHandshakeInput bytes waiting while the
// handshake runs (a peer that sends without end, or a client's first data
// right behind its Finished), the receive is held until the handshake ends.
func (w *Worker) tlsInput(s *connSlot, idx uint32, data []byte) {
	t := s.tls
	if !t.open {
		if t.pipe.feed(data) > tlsHandshakeInput {
			w.holdRecv(s, idx)
		}
		return
	}
	if t.eof {
		return // after close_notify nothing is read: the input is dropped
	}
	t.pipe.lend(data) // read in place: no copy into the pipe
	w.tlsPump(s, idx)
	t.pipe.keep(t.eof)
}

// tlsPump decrypts the records received and delivers their plaintext,
// until none is left whole or the connection pauses or closes. The peer's
// close_notify counts as its FIN.
func (w *Worker) tlsPump(s *connSlot, idx uint32) {
	t := s.tls
	if w.tlsBuf == nil {
		w.tlsBuf = make([]byte, tlsMaxPlaintext)
	}
	for s.tls == t && s.state == connOpen && !s.is(markPaused) {
		n, err := t.conn.Read(w.tlsBuf)
		if n > 0 {
			w.deliver(s, idx, w.tlsBuf[:n])
		}
		switch {
		case err == nil:
			continue
		case s.tls != t || !s.alive():
			// OnData closed it (and its slot may be free already).
		case errors.Is(err, errWouldBlock):
		case err == io.EOF:
			// Reported once, and not while paused: crypto/tls repeats
			// io.EOF, and retryPaused pumps again on resuming.
			if !t.eof && !s.is(markPaused) && s.state == connOpen {
				t.eof = true
				w.cancelRecv(s, idx) // a PeerEOFHandler keeps the connection open: read no more
				w.peerClosed(s, idx)
			}
		case errors.Is(err, errTLSPoolFull):
			w.tlsOverflow(s, idx)
		default:
			w.tlsFail(s, idx, &TLSError{Err: err})
		}
		return
	}
}

// tlsFail closes a connection TLS failed on, after the alert crypto/tls
// wrote, if any; the TLS error stays the cause whatever follows.
func (w *Worker) tlsFail(s *connSlot, idx uint32, cause *TLSError) {
	s.tls.failed = true
	s.cause = cause
	w.stats.tlsFailures.Add(1)
	if w.tlsFlush(s, idx) {
		w.closeGraceful(s, idx, cause)
	}
}

// tlsInputEnd handles the end of a TLS connection's input, the peer's FIN
// (io.EOF) or a receive error, and reports whether it did. During the
// handshake the handshake sees the end after the input before it, so a
// failure reports what the peer said (its alert) rather than the reset that
// followed. After it, a FIN that cuts a record short is a truncation.
// Receive errors after the handshake are not handled here.
func (w *Worker) tlsInputEnd(s *connSlot, idx uint32, err error) bool {
	t := s.tls
	switch {
	case t == nil || s.state != connOpen:
		return false
	case !t.open:
		s.mark(markPeerEOF) // no receive re-armed
		t.pipe.end(err)
		return true
	case err == io.EOF && t.eof:
		return true // close_notify ended the input already
	case err == io.EOF:
		// crypto/tls holds a partial record itself: let it judge the end,
		// io.EOF at a record boundary, io.ErrUnexpectedEOF inside one
		// (tlsPump closes with either); a paused connection is pumped when
		// it resumes.
		s.mark(markPeerEOF)
		t.pipe.end(io.EOF)
		if !s.is(markPaused) {
			w.tlsPump(s, idx)
		}
		return true
	}
	return false
}

// tlsFlush queues what the handshake wrote. Records the pool cannot take
// whole close the connection (tlsOverflow) and report false.
func (w *Worker) tlsFlush(s *connSlot, idx uint32) bool {
	out := s.tls.pipe.takeOut()
	defer s.tls.pipe.giveBack(out)
	if !w.tlsQueue(s, idx, out) {
		w.tlsOverflow(s, idx)
		return false
	}
	return true
}

// tlsQueue queues records in the send pool, whole or not at all, and
// reports whether it did.
func (w *Worker) tlsQueue(s *connSlot, idx uint32, b []byte) bool {
	room := w.tailRoom(s)
	if need := (len(b) - room + w.pool.size - 1) / w.pool.size; need > w.pool.available() {
		return false
	}
	w.queue(s, idx, b, room)
	return true
}

// tlsOverflow closes a connection some of whose TLS records the send
// pool could not take: reset, for the stream is broken.
func (w *Worker) tlsOverflow(s *connSlot, idx uint32) {
	t := s.tls
	w.stats.sendPoolExhausted.Add(1)
	if !t.failed {
		w.stats.tlsFailures.Add(1)
	}
	t.failed = true
	w.reset(s)
	w.closeNow(s, idx, &TLSError{Handshake: !t.open, Err: errTLSPoolFull})
}

// tlsReady refuses a send on a TLS connection before its handshake ended.
func (w *Worker) tlsReady(s *connSlot) error {
	if !s.tls.open {
		return errTLSNotOpen
	}
	return nil
}

// tlsWrite encrypts p into the send pool; the caller checked that its
// records fit (tlsSealed).
func (w *Worker) tlsWrite(s *connSlot, idx uint32, p []byte) error {
	if len(p) == 0 {
		return nil
	}
	if _, err := s.tls.conn.Write(p); err != nil {
		if errors.Is(err, errTLSPoolFull) {
			w.tlsOverflow(s, idx)
			return ErrConnClosing
		}
		return &TLSError{Err: err}
	}
	return nil
}

// tlsSend is send for a TLS connection: the message whole or nothing,
// judged by the most its records can take.
func (w *Worker) tlsSend(s *connSlot, idx uint32, p []byte) (want, error) {
	if err := w.tlsReady(s); err != nil {
		return want{}, err
	}
	if len(p) == 0 {
		return want{}, nil
	}
	if r, err := w.admit(s, idx, tlsSealed(len(p))); err != nil {
		return r, err
	}
	return want{}, w.tlsWrite(s, idx, p)
}

// tlsClosing is a graceful close's or CloseWrite's part for TLS:
// close_notify once open, or the end of a handshake still running. A
// close_notify the pool has no room for is left out (the sink refuses
// it); everything queued before it is still sent.
func (w *Worker) tlsClosing(s *connSlot) {
	t := s.tls
	switch {
	case !t.open:
		t.pipe.Close()
	case !t.failed:
		t.conn.CloseWrite() // writes close_notify once, nothing after
	}
}
