//go:build linux

package rionet

import (
	"cmp"
	"errors"
	"io"
	"net"
	"os"
	"sync"

	"github.com/ringline-go/ringline/rio"
)

// Writing. A small Write is copied into the Conn's outbound buffer and
// returns at once; the first one that finds no flush under way posts one
// to the worker, which copies the buffer into its send pool as far as the
// pool and the connection's budget take, and goes on from OnSent (or, when
// the pool is full of other connections' bytes, from the next send or
// close on the worker). A Write larger than the buffer waits for the
// buffer to drain and then lends the caller's slice to the worker (which
// pins it while queued): the kernel sends straight from it (rio.Conn.SendBorrowed), with no copy
// into the pool, and the Write returns once all of it is sent. With a
// write deadline set it has the worker copy the slice into the pool
// instead, so that the deadline can end the Write with the connection
// still usable.

// outCap is the outbound buffer's size: the most a Write leaves behind it.
// Writes of 64 KiB (net/http's chunks) and of 32 KiB (io.Copy's) fill it
// several at a time, so the worker is woken once per 256 KiB, not per
// Write: net/http's 1 MiB responses went from 0.78x Go net's requests per
// CPU-second with a 64 KiB buffer to 0.81-0.92x (BENCHMARKS.md).
const outCap = 256 << 10

// outBufs holds outbound buffers while no Write needs one: a Conn has one
// only while its bytes wait for the worker, so 10,000 idle Conns hold none.
var outBufs = sync.Pool{New: func() any { return new([outCap]byte) }}

// Write writes all of p, or fails with the error that stopped the worker
// sending (the connection's, or net.ErrClosed), the write deadline or
// Close. It returns once p is in the outbound buffer or the send pool, or,
// lent, once the kernel has sent it.
func (c *Conn) Write(p []byte) (int, error) {
	if err := c.acquire(c.wsem, c.wdl, "write"); err != nil {
		return 0, err
	}
	defer func() { <-c.wsem }()
	written := 0
	for written < len(p) {
		c.wmu.Lock()
		if err := c.werr; err != nil {
			c.wmu.Unlock()
			return written, c.writeError(err)
		}
		rest := len(p) - written
		if rest > outCap && c.flushing() { // a large write waits for the buffer to drain
			c.wmu.Unlock()
			if err := c.waitWritable(); err != nil {
				return written, err
			}
			continue
		}
		if rest > outCap {
			c.wmu.Unlock()
			n, err := c.writeDirect(p[written:])
			return written + n, err
		}
		if c.out == nil {
			c.out = outBufs.Get().(*[outCap]byte)[:0]
		}
		if len(c.out) == outCap && c.outHead > 0 { // full, with room at the front
			c.out = c.out[:copy(c.out, c.out[c.outHead:])]
			c.outHead = 0
		}
		n := min(outCap-len(c.out), rest)
		post := n > 0 && !c.flushing() // the first bytes left behind: the worker needs telling
		c.out = append(c.out, p[written:written+n]...)
		written += n
		c.wmu.Unlock()
		switch {
		case post:
			if err := c.post(c.flushFn); err != nil {
				return written, c.opError("write", net.ErrClosed)
			}
		case n == 0:
			if err := c.waitWritable(); err != nil {
				return written, err
			}
		}
	}
	return written, nil
}

// waitWritable waits for a writable token: the buffer drained, sends
// completed or room was made, the connection ended.
func (c *Conn) waitWritable() error {
	select {
	case <-c.writable:
		return nil
	case <-c.done:
		return c.opError("write", net.ErrClosed)
	case <-c.gone:
		return c.opError("write", net.ErrClosed)
	case <-c.wdl.wait():
		return c.opError("write", os.ErrDeadlineExceeded)
	}
}

// writeError is the error a Write reports for what stopped the worker.
func (c *Conn) writeError(err error) error {
	if errors.Is(err, rio.ErrStaleConn) || errors.Is(err, net.ErrClosed) {
		err = net.ErrClosed
	}
	return c.opError("write", err)
}

// refused reports a SendSome error that means "no room now".
func refused(err error) bool {
	return errors.Is(err, rio.ErrSendPoolExhausted) || errors.Is(err, rio.ErrSendBudgetExhausted)
}

// writeDirect writes a large p, with the outbound buffer empty (it stays
// so, since Writes run one at a time), straight from the caller's slice,
// as much at a time as the pool and the budget take, waiting for room
// between. With no write deadline set, p is lent (rio.Conn.SendBorrowed):
// the kernel reads it itself, and the Write waits until the kernel has
// sent all of it or the connection has ended (OnClose: nothing is in
// flight), since the caller may reuse p once it returns; a Close meanwhile
// resets the connection, and so does a write deadline set meanwhile. With
// a deadline set, p is copied into the pool, so that the deadline can end
// the Write with the connection still usable.
func (c *Conn) writeDirect(p []byte) (int, error) {
	lend := !c.wdl.isSet()
	send, wait := rio.Conn.SendSome, c.waitWritable
	if lend {
		send, wait = rio.Conn.SendBorrowed, func() error { return c.waitLent(c.writable) }
		c.lending.Store(true)
		defer c.lending.Store(false)
	}
	handed := 0
	pending := false // lent bytes are queued: OnSent's drained token or OnClose ends the wait
	var werr error
	for handed < len(p) && werr == nil {
		res := make(chan sendResult, 1)
		rest := p[handed:]
		if err := c.post(func(w *rio.Worker) {
			n, err := send(c.rc, rest)
			c.awaitRoom(w, err)
			if lend && n > 0 {
				select { // a token left by an earlier drain is stale now
				case <-c.drained:
				default:
				}
				c.lent = true
			}
			res <- sendResult{n, err, lend && c.lent}
		}); err != nil {
			return handed, c.opError("write", net.ErrClosed) // the worker is gone, and the kernel with it
		}
		var r sendResult
		select {
		case r = <-res:
		case <-c.gone:
			return handed, c.opError("write", net.ErrClosed)
		}
		handed += r.n
		pending = r.lent
		switch {
		case r.err != nil && !refused(r.err):
			werr = c.writeError(r.err)
		case handed < len(p):
			werr = wait()
		}
	}
	if !pending {
		return handed, werr
	}
	if err := c.waitLent(c.drained); err != nil || werr != nil {
		return handed, cmp.Or(werr, err)
	}
	return handed, nil
}

// waitLent waits for a token on ch while a Write's slice is lent: a write
// deadline resets the connection, and the wait goes on until it has ended
// (gone), when the kernel is done with the slice; Close resets it too.
func (c *Conn) waitLent(ch chan struct{}) error {
	select {
	case <-ch:
		return nil
	case <-c.gone:
		return c.opError("write", net.ErrClosed)
	case <-c.wdl.wait():
		c.post(func(*rio.Worker) { c.rc.Abort() })
		<-c.gone
		return c.opError("write", os.ErrDeadlineExceeded)
	}
}

type sendResult struct {
	n    int
	err  error
	lent bool // lent bytes are queued on the worker
}

// The worker's side.

// flush is sendOut posted by a Write: it wakes a Write waiting for room
// in the buffer if it made some; on the worker.
func (c *Conn) flush(w *rio.Worker) {
	if c.sendOut(w) {
		signal(c.writable)
	}
}

// sendOut copies the outbound buffer into the send pool as far as it
// takes, and reports whether that made room in the buffer for a Write; on
// the worker. What is left goes at the next OnSent, or once room is made
// when the pool is full of other connections' bytes. OnSent and roomMade
// call it and wake the Writes themselves, whatever it reports: their room
// in the pool is news to a Write copying into it directly.
func (c *Conn) sendOut(w *rio.Worker) bool {
	c.wmu.Lock()
	if !c.flushing() {
		c.wmu.Unlock()
		return false
	}
	n, err := c.rc.SendSome(c.out[c.outHead:])
	c.outHead += n
	switch {
	case c.outHead == len(c.out):
		c.releaseOut()
	case !refused(err):
		c.werr = err
		c.releaseOut()
	default:
		c.awaitRoom(w, err)
	}
	var end func(rio.Conn) error
	if !c.flushing() {
		end, c.afterOut = c.afterOut, nil
	}
	room := n > 0 || !c.flushing()
	c.wmu.Unlock()
	if end != nil {
		c.outTimer.Stop()
		end(c.rc) // unlocked: a close that finishes at once runs OnClose, which flushes
	}
	return room
}

// awaitRoom lists c as waiting for room in w's send pool when err says
// the pool is full and none of c's bytes are queued: the pool is full of
// other connections' bytes, so c's OnSent will not come, theirs will; on w.
func (c *Conn) awaitRoom(w *rio.Worker, err error) {
	if errors.Is(err, rio.ErrSendPoolExhausted) && c.rc.Queued() == 0 {
		c.h.waitRoom(w, c)
	}
}

// flushing reports whether out holds bytes not yet in the send pool: a
// flush is posted or waits on the worker then, which owns their sending;
// under wmu.
func (c *Conn) flushing() bool { return c.outHead < len(c.out) }

// releaseOut returns the outbound buffer to outBufs and leaves the Conn
// without one; under wmu. The worker has copied out of it what it sent.
func (c *Conn) releaseOut() {
	outBufs.Put((*[outCap]byte)(c.out[:outCap]))
	c.out, c.outHead = nil, 0
}

// afterWrites runs end (Close, CloseWrite) once the outbound buffer has
// gone into the send pool, and reports whether it has to wait for that;
// on the worker.
func (c *Conn) afterWrites(end func(rio.Conn) error) bool {
	c.wmu.Lock()
	if c.flushing() {
		c.afterOut = end
		c.wmu.Unlock()
		return true
	}
	c.wmu.Unlock()
	end(c.rc)
	return false
}

// boundClose bounds the wait of a Close for the outbound buffer to drain
// by the Config's CloseLinger, as rio's Close bounds the wait for its own
// queued sends: otherwise a peer that never reads would keep the
// connection, and a closed Listener's workers, alive forever; on w.
func (c *Conn) boundClose(w *rio.Worker) {
	t, err := w.AfterFunc(c.h.linger, c.abortClose)
	if err != nil {
		c.abortClose() // no timer to bound the wait: do not wait
		return
	}
	c.outTimer = t
}

// abortClose drops the outbound buffer of a Close still waiting for it to
// drain and resets the connection: the peer must not take the part it got
// for a whole stream; on the worker.
func (c *Conn) abortClose() {
	c.wmu.Lock()
	waiting := c.afterOut != nil
	if waiting {
		c.afterOut = nil
		c.werr = cmp.Or(c.werr, net.ErrClosed)
		c.releaseOut()
	}
	c.wmu.Unlock()
	if waiting {
		c.rc.Abort()
	}
}

// readFromSize is ReadFrom's buffer: larger than the outbound buffer, so
// that a read that fills it (a file's) is lent to the worker, not copied.
const readFromSize = 512 << 10

var readFromBufs = sync.Pool{New: func() any { return new([readFromSize]byte) }}

// ReadFrom writes what r gives until io.EOF (which it does not return) or
// an error. It reads into buffers of 512 KiB, so a read that fills more
// than the outbound buffer goes to the kernel straight from there (lent),
// saving the copy into the send pool that io.Copy's 32 KiB Writes would
// each make.
func (c *Conn) ReadFrom(r io.Reader) (int64, error) {
	buf := readFromBufs.Get().(*[readFromSize]byte)
	defer readFromBufs.Put(buf)
	var total int64
	for {
		n, err := r.Read(buf[:])
		if n > 0 {
			k, werr := c.Write(buf[:n])
			total += int64(k)
			if werr != nil {
				return total, werr
			}
		}
		switch {
		case err == io.EOF:
			return total, nil
		case err != nil:
			return total, err
		}
	}
}
