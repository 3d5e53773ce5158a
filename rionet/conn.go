//go:build linux

package rionet

import (
	"cmp"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ringline-go/ringline/rio"
)

// Conn is a net.Conn whose connection a rio worker serves. Read takes
// bytes the worker has put in the connection's inbound buffer; Write
// leaves small writes in an outbound buffer the worker copies into its
// send pool, and hands large ones to the worker directly, waiting while
// the pool or the connection's budget is full. Its methods are safe for
// concurrent use, as net.Conn's are.
type Conn struct {
	srv    *rio.Server
	worker int
	h      *handler // its server's handler, which lists the Writes waiting for room
	rc     rio.Conn // the worker's handle: touched only on the worker
	local  net.Addr // set on the worker at OnOpen, before the Conn is handed over
	remote net.Addr

	mu     sync.Mutex
	in     []byte // received: in[inHead:] is not yet read
	inHead int
	held   bool  // the worker was asked to hold the receive: in is full
	ended  error // the end of input once in is drained: io.EOF or the connection's error
	closed bool

	readable chan struct{} // a token: in grew, or input ended
	writable chan struct{} // a token: its sends completed, room was made (waitRoom), or the connection ended
	done     chan struct{} // closed by Close
	gone     chan struct{} // closed when the worker has closed the connection
	opened   chan struct{} // closed when a dialed connection has connected

	rsem, wsem chan struct{} // one Read and one Write at a time
	rdl, wdl   *deadline

	wmu      sync.Mutex
	out      []byte // written: out[outHead:] is not yet in the worker's send pool
	outHead  int
	werr     error                // why the worker could not send: later Writes fail with it
	afterOut func(rio.Conn) error // a Close or CloseWrite waiting for out to drain
	outTimer rio.Timer            // on the worker: bounds a Close waiting for out to drain (boundClose)
	flushFn  func(*rio.Worker)    // c.flush, made once: a method value posted per Write would be an allocation each

	lent    bool          // on the worker: a Write's lent bytes are queued; OnSent signals drained when none are
	lending atomic.Bool   // a lent Write is under way, between its batches too
	drained chan struct{} // a token: the lent bytes are all sent
}

// The inbound buffer: past holdAt unread bytes the worker holds the
// receive, and resumes it once a reader has taken it below resumeAt. A
// buffer read to its end is kept for the next input, saving an allocation
// per receive, unless it has grown past inKeep (a held receive's), which
// an idle Conn should not hold on to.
const (
	holdAt   = 256 << 10
	resumeAt = 64 << 10
	inKeep   = 64 << 10
)

// newConn makes the Conn of rc; on rc's worker.
func newConn(h *handler, rc rio.Conn) *Conn {
	c := &Conn{
		srv: rc.Worker().Server(), worker: rc.Worker().ID(), h: h, rc: rc,
		readable: make(chan struct{}, 1), writable: make(chan struct{}, 1), drained: make(chan struct{}, 1),
		done: make(chan struct{}), gone: make(chan struct{}), opened: make(chan struct{}),
		rsem: make(chan struct{}, 1), wsem: make(chan struct{}, 1),
		rdl: newDeadline(), wdl: newDeadline(),
	}
	c.flushFn = c.flush
	return c
}

// signal leaves a token on ch, if none is there.
func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// opError wraps err as net does.
func (c *Conn) opError(op string, err error) error {
	return &net.OpError{Op: op, Net: "tcp", Source: c.local, Addr: c.remote, Err: err}
}

// acquire takes sem, unless the deadline passes or the Conn closes first.
// The common case, a free turn, costs non-blocking channel operations
// only, no select over several channels (which showed in profiles of
// net/http on the adapter).
func (c *Conn) acquire(sem chan struct{}, dl *deadline, op string) error {
	select {
	case sem <- struct{}{}:
		if err := c.stopped(dl, op); err != nil {
			<-sem
			return err
		}
		return nil
	default:
	}
	if err := c.stopped(dl, op); err != nil {
		return err
	}
	select {
	case sem <- struct{}{}:
		if err := c.stopped(dl, op); err != nil { // Close or the deadline came while waiting
			<-sem
			return err
		}
		return nil
	case <-c.done:
		return c.opError(op, net.ErrClosed)
	case <-dl.wait():
		return c.opError(op, os.ErrDeadlineExceeded)
	}
}

// stopped returns the error of a closed Conn or a passed deadline, or nil.
func (c *Conn) stopped(dl *deadline, op string) error {
	select {
	case <-c.done:
		return c.opError(op, net.ErrClosed)
	default:
	}
	select {
	case <-dl.wait():
		return c.opError(op, os.ErrDeadlineExceeded)
	default:
	}
	return nil
}

// Read reads what has arrived, waiting for at least one byte, the end of
// the input (io.EOF, once the peer shut its side: Write still works then),
// the read deadline or Close.
func (c *Conn) Read(p []byte) (int, error) {
	if err := c.acquire(c.rsem, c.rdl, "read"); err != nil {
		return 0, err
	}
	defer func() { <-c.rsem }()
	return c.input(len(p) == 0, false, func(in []byte) int { return copy(p, in) })
}

// WriteTo writes what arrives to w until the input ends (io.EOF, which it
// does not return) or w, the read deadline or Close fails it. It hands w
// the inbound buffer itself, saving the copy into a buffer of the
// caller's that io.Copy would make.
func (c *Conn) WriteTo(w io.Writer) (int64, error) {
	if err := c.acquire(c.rsem, c.rdl, "read"); err != nil {
		return 0, err
	}
	defer func() { <-c.rsem }()
	var total int64
	for {
		if err := c.stopped(c.rdl, "read"); err != nil { // each pass, as each Read would
			return total, err
		}
		var chunk []byte
		_, err := c.input(false, true, func(in []byte) int { chunk = in; return len(in) })
		switch {
		case err == io.EOF:
			return total, nil
		case err != nil:
			return total, err
		}
		n, err := w.Write(chunk) // the buffer is the caller's now: the worker starts a new one
		total += int64(n)
		switch {
		case err != nil:
			return total, err
		case n != len(chunk):
			return total, io.ErrShortWrite
		}
	}
}

// input waits for received bytes and hands them to take, under the Conn's
// lock, which returns how many it consumed; or it returns the end of the
// input, the read deadline's or Close's error. With none wanted it
// returns at once. A take that keeps the bytes (handOff: it takes them
// all) leaves the Conn without its buffer: the worker starts a new one.
func (c *Conn) input(none, handOff bool, take func(in []byte) int) (int, error) {
	for {
		c.mu.Lock()
		switch {
		case c.closed:
			c.mu.Unlock()
			return 0, c.opError("read", net.ErrClosed)
		case none:
			c.mu.Unlock()
			return 0, nil
		case c.unread() > 0:
			n := take(c.in[c.inHead:])
			c.inHead += n
			if c.inHead == len(c.in) {
				c.in, c.inHead = c.in[:0], 0
				if handOff || cap(c.in) > inKeep {
					c.in = nil
				}
			}
			resume := c.held && c.unread() < resumeAt
			if resume {
				c.held = false
			}
			c.mu.Unlock()
			if resume {
				c.post(func(*rio.Worker) {
					c.mu.Lock() // input in flight may have filled the buffer again: hold on if so
					if !c.held {
						c.rc.ResumeReceive()
					}
					c.mu.Unlock()
				})
			}
			return n, nil
		case c.ended != nil:
			err := c.ended
			c.mu.Unlock()
			if err != io.EOF {
				var oe *net.OpError
				if errors.As(err, &oe) {
					err = oe.Err // rio's own *net.OpError: not wrapped twice
				}
				err = c.opError("read", err)
			}
			return 0, err
		}
		c.mu.Unlock()
		select {
		case <-c.readable:
		case <-c.done:
		case <-c.rdl.wait():
			return 0, c.opError("read", os.ErrDeadlineExceeded)
		}
	}
}

// unread is how many received bytes wait for a reader; under mu.
func (c *Conn) unread() int { return len(c.in) - c.inHead }

// post runs fn on the connection's worker; a worker that is gone has
// closed the connection already.
func (c *Conn) post(fn func(*rio.Worker)) error { return post(c.srv, c.worker, fn) }

// post queues fn to run on srv's worker, waiting while its post queue is
// full (the worker empties it each loop iteration), as a write to a full
// socket buffer waits: the callers' callers (net/http, quic-go) take an
// error for the connection's end. It fails only once the worker stopped.
func post(srv *rio.Server, worker int, fn func(*rio.Worker)) error {
	for pause := time.Microsecond; ; pause = min(2*pause, time.Millisecond) {
		err := srv.Run(worker, fn)
		if !errors.Is(err, rio.ErrPostQueueFull) {
			return err
		}
		time.Sleep(pause)
	}
}

// Close closes the connection: pending and later Reads and Writes fail
// with net.ErrClosed; what was written is still sent, then a FIN. Output
// still short of the worker's send pool once the Config's CloseLinger has
// passed (the peer is not reading) is dropped and the connection reset: a
// peer that never reads would otherwise hold it open forever. A Close
// during a Write that lent its slice (one larger than the outbound buffer,
// with no write deadline) resets the connection instead: the Write cannot
// return while the kernel may still read its slice, and the peer must not
// take the part it got for a whole stream.
func (c *Conn) Close() error { return c.shut(rio.Conn.Close) }

// shut closes the Conn, ending its connection on the worker with end:
// rio.Conn.Close, or rio.Conn.Abort for one no Accept took.
func (c *Conn) shut(end func(rio.Conn) error) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return c.opError("close", net.ErrClosed)
	}
	c.closed = true
	c.mu.Unlock()
	close(c.done)
	c.post(func(w *rio.Worker) {
		if c.lending.Load() { // c.lent implies it: set only during a lent Write, cleared before that returns
			// A Write's slice is in the kernel's hands and the Write
			// waits for it, or it is between two of its batches: a reset
			// ends the wait now, its caller learns the write failed, and
			// the peer never takes the part it got for a whole stream.
			end = rio.Conn.Abort
		}
		if c.afterWrites(end) {
			c.boundClose(w)
		}
	})
	return nil
}

// CloseWrite shuts down the writing side: once what was written has been
// sent, the peer reads EOF.
func (c *Conn) CloseWrite() error {
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return c.opError("close", net.ErrClosed)
	}
	c.wmu.Lock()
	c.werr = cmp.Or(c.werr, net.ErrClosed) // later Writes fail at once, as a shut socket's do
	c.wmu.Unlock()
	if err := c.post(func(*rio.Worker) { c.afterWrites(rio.Conn.CloseWrite) }); err != nil {
		return c.opError("close", net.ErrClosed)
	}
	return nil
}

// LocalAddr returns the local address.
func (c *Conn) LocalAddr() net.Addr { return c.local }

// RemoteAddr returns the peer's address.
func (c *Conn) RemoteAddr() net.Addr { return c.remote }

// SetDeadline sets the read and write deadlines.
func (c *Conn) SetDeadline(t time.Time) error {
	c.rdl.set(t)
	c.wdl.set(t)
	return nil
}

// SetReadDeadline sets the deadline for pending and future Reads; a
// passed one fails them with os.ErrDeadlineExceeded.
func (c *Conn) SetReadDeadline(t time.Time) error { c.rdl.set(t); return nil }

// SetWriteDeadline sets the deadline for pending and future Writes.
func (c *Conn) SetWriteDeadline(t time.Time) error { c.wdl.set(t); return nil }

// The worker's side: the handler's callbacks for this connection.

// received appends data to the inbound buffer, holding the receive once it
// is full; on the worker.
func (c *Conn) received(data []byte) {
	c.mu.Lock()
	if !c.closed {
		if c.inHead > 0 && len(c.in)+len(data) > cap(c.in) {
			// Move the unread bytes to the front rather than grow the
			// buffer past bytes already read.
			c.in = c.in[:copy(c.in, c.in[c.inHead:])]
			c.inHead = 0
		}
		c.in = append(c.in, data...)
		if c.unread() >= holdAt && !c.held {
			c.held = true
			c.rc.HoldReceive()
		}
	}
	c.mu.Unlock()
	signal(c.readable)
}

// inputEnded records the peer's FIN: the input ends with io.EOF while the
// connection goes on taking writes; on the worker.
func (c *Conn) inputEnded() {
	c.mu.Lock()
	c.ended = io.EOF
	c.mu.Unlock()
	signal(c.readable)
}

// end records the end of the connection; on the worker. An input that
// ended already (the peer's FIN) keeps its io.EOF.
func (c *Conn) end(err error) {
	c.mu.Lock()
	if errors.Is(err, io.EOF) || errors.Is(err, rio.ErrLocalClose) {
		err = io.EOF
	}
	if c.ended == nil {
		c.ended = err
	}
	c.mu.Unlock()
	close(c.gone)
	signal(c.readable)
	signal(c.writable)
}

var (
	_ net.Conn      = (*Conn)(nil)
	_ io.ReaderFrom = (*Conn)(nil)
	_ io.WriterTo   = (*Conn)(nil)
)
