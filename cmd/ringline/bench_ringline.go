//go:build linux

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/ringline-go/ringline/rio"
)

// The ringline client: the runtime's own workers dial the connections from
// OnStart, queue --pipeline requests on open, and in OnData check the echo
// bytes as they arrive and queue a new request for each echo completed.
// Everything a callback touches belongs to its worker; the only shared
// values are two atomic counters the progress line reads.

// maxSendChunk bounds the bytes generated per SendSome call.
const maxSendChunk = 64 << 10

// ringClient is the running ringline load.
type ringClient struct {
	srv     *rio.Server
	workers []*ringWorker
}

// ringWorker is one worker's share of the load. Only its worker touches it
// while the load runs, except nops and nlive.
type ringWorker struct {
	cfg     benchConfig
	clk     clock
	win     window
	conns   []*ringConn
	pending []*ringConn // connections waiting for room in the send pool
	spare   []*ringConn // the other list, swapped with pending on a retry
	scratch []byte      // request bytes about to be queued
	budget  int         // the most bytes one connection keeps queued
	lat     *latencies
	errs    errorLog
	opened  int
	dialErr error

	nops  atomic.Uint64 // responses counted in the window
	nlive atomic.Int64  // connections not yet closed
}

// ringConn is one connection's stream state.
type ringConn struct {
	w      *ringWorker
	id     int
	c      rio.Conn
	opened bool
	done   bool // failed, or closing: its events are ignored

	sentAt    []time.Duration // when request seq was queued, at seq % pipeline
	nextSeq   uint64          // the request being queued
	sendOff   int             // bytes of it already queued
	recvSeq   uint64          // the request whose echo is arriving
	recvOff   int             // bytes of its echo already checked
	sentBytes uint64
	recvBytes uint64
	waiting   bool // on the worker's pending list
}

// startRinglineClient starts --client-workers workers (at most the CPUs and
// the connections) that dial the connections between them. Each worker
// holds only its share of connections, so many workers fit RLIMIT_NOFILE.
func startRinglineClient(cfg benchConfig, clk clock, win window) (loadClient, error) {
	n := max(1, min(cfg.clientWorkers, runtime.NumCPU(), cfg.conns))
	cl := &ringClient{workers: make([]*ringWorker, n)}
	perWorker := (cfg.conns + n - 1) / n
	rcfg := rio.Config{Workers: n, MaxConns: perWorker,
		TimerSlots: max(rio.DefaultTimerSlots, perWorker), // a dial timeout each
		SendSlots:  rio.DefaultSendSlots, SendSlotSize: rio.DefaultSendSlotSize}
	// Each connection's queue may also hold a partly sent slot at its head
	// and a partly filled one at its tail.
	budget := max(1, rcfg.SendSlots/perWorker-2) * rcfg.SendSlotSize
	for i := range cl.workers {
		cl.workers[i] = &ringWorker{cfg: cfg, clk: clk, win: win, lat: newLatencies(),
			scratch: make([]byte, min(cfg.size, maxSendChunk)), budget: budget}
	}
	for id := range cfg.conns {
		w := cl.workers[id%n]
		w.conns = append(w.conns, &ringConn{w: w, id: id, sentAt: make([]time.Duration, cfg.pipeline)})
	}
	for _, w := range cl.workers {
		w.nlive.Store(int64(len(w.conns)))
	}
	srv, err := rio.StartClient(context.Background(), rcfg, benchHandler{cl.workers})
	if err != nil {
		return nil, fmt.Errorf("starting the ringline client: %w", err)
	}
	cl.srv = srv
	return cl, nil
}

func (cl *ringClient) ops() uint64 {
	var n uint64
	for _, w := range cl.workers {
		n += w.nops.Load()
	}
	return n
}

func (cl *ringClient) live() int {
	var n int64
	for _, w := range cl.workers {
		n += w.nlive.Load()
	}
	return int(n)
}

func (cl *ringClient) stop() tally {
	cl.srv.Close() // returns once the workers are gone: their state is ours
	t := tally{lat: newLatencies()}
	for _, w := range cl.workers {
		t.ops += w.nops.Load()
		t.lat.merge(w.lat)
		t.errs.merge(&w.errs)
		t.opened += w.opened
		if t.dialErr == nil {
			t.dialErr = w.dialErr
		}
	}
	return t
}

// benchHandler runs the load on each worker.
type benchHandler struct{ workers []*ringWorker }

// OnStart dials the worker's connections.
func (h benchHandler) OnStart(wk *rio.Worker) {
	w := h.workers[wk.ID()]
	for _, rc := range w.conns {
		c, err := wk.Dial(w.cfg.network, w.cfg.addr, dialTimeout)
		if err != nil {
			w.dialFailed(rc, err)
			w.nlive.Add(-1) // no OnClose follows
			continue
		}
		rc.c = c
		c.SetValue(rc)
	}
}

// OnOpen starts the connection's first requests.
func (h benchHandler) OnOpen(c rio.Conn) {
	rc, ok := c.Value().(*ringConn)
	if !ok {
		return
	}
	rc.opened = true
	rc.w.opened++
	rc.w.pump(rc, rc.w.clk.now())
}

// OnData checks the echo bytes against the requests in order, times each
// echo completed and queues as many new requests.
func (h benchHandler) OnData(c rio.Conn, data []byte) int {
	rc, ok := c.Value().(*ringConn)
	if !ok || rc.done {
		return len(data)
	}
	w, size := rc.w, rc.w.cfg.size
	now := w.clk.now()
	for rest := data; len(rest) > 0; {
		owed := rc.sentBytes - rc.recvBytes
		if owed == 0 {
			w.fail(rc, fmt.Sprintf("conn %d: %d bytes echoed beyond the %d sent", rc.id, len(rest), rc.sentBytes))
			return len(data)
		}
		k := min(len(rest), size-rc.recvOff, int(min(owed, uint64(size))))
		if bad := checkPattern(rest[:k], requestSeed(rc.id, rc.recvSeq), rc.recvOff); bad >= 0 {
			w.fail(rc, mismatch(rc.id, rc.recvSeq, size, rest[:k], rc.recvOff, bad, w.cfg.pipeline))
			return len(data)
		}
		rc.recvOff += k
		rc.recvBytes += uint64(k)
		rest = rest[k:]
		if rc.recvOff == size {
			if w.win.holds(now) {
				w.lat.record(now - rc.sentAt[rc.recvSeq%uint64(len(rc.sentAt))])
				w.nops.Add(1)
			}
			rc.recvSeq++
			rc.recvOff = 0
		}
	}
	w.pump(rc, now)
	return len(data)
}

// OnSent continues the connection's requests, now that its queue is
// shorter, and those of connections that found the send pool full.
func (h benchHandler) OnSent(c rio.Conn, n int) {
	rc, ok := c.Value().(*ringConn)
	if !ok {
		return
	}
	now := rc.w.clk.now()
	rc.w.pump(rc, now)
	if len(rc.w.pending) > 0 {
		rc.w.retry(now)
	}
}

// OnClose counts the connection out; unless the run is stopping or the
// connection already failed, its end is an error.
func (h benchHandler) OnClose(c rio.Conn, err error) {
	rc, ok := c.Value().(*ringConn)
	if !ok {
		return
	}
	w := rc.w
	w.nlive.Add(-1)
	if rc.done || errors.Is(err, rio.ErrServerClosed) {
		rc.done = true
		return
	}
	rc.done = true
	switch {
	case !rc.opened:
		w.dialFailed(rc, err)
	case errors.Is(err, io.EOF):
		w.errs.add(fmt.Sprintf("conn %d request %d: the server closed the connection after %d of the %d bytes of the echo (%d requests unanswered)",
			rc.id, rc.recvSeq, rc.recvOff, w.cfg.size, rc.inFlight()))
	default:
		w.errs.add(fmt.Sprintf("conn %d request %d: %v", rc.id, rc.recvSeq, err))
	}
}

// OnTick retries the connections waiting for the send pool, in case no
// send completion comes to do it.
func (h benchHandler) OnTick(wk *rio.Worker) {
	if w := h.workers[wk.ID()]; len(w.pending) > 0 {
		w.retry(w.clk.now())
	}
}

// OnNotify is not used: nothing wakes the workers.
func (benchHandler) OnNotify(*rio.Worker) {}

// inFlight counts the requests queued, wholly or partly, and not yet
// echoed whole.
func (rc *ringConn) inFlight() int {
	n := int(rc.nextSeq - rc.recvSeq)
	if rc.sendOff > 0 {
		n++
	}
	return n
}

// pump queues requests until --pipeline are in flight, or until the
// connection has its budget queued (its OnSent resumes), or the send pool
// is full (the connection waits on the pending list). Keeping every
// connection within its budget keeps the pool from filling: a send refused
// from OnData would pause the connection's receiving, and with it the
// echoes that free the pool.
func (w *ringWorker) pump(rc *ringConn, now time.Duration) {
	size := w.cfg.size
	for !rc.done && !rc.waiting {
		room := w.budget - rc.c.Queued()
		if rc.sendOff == 0 {
			if rc.inFlight() >= len(rc.sentAt) {
				return
			}
			rc.sentAt[rc.nextSeq%uint64(len(rc.sentAt))] = now
		}
		if room <= 0 {
			return
		}
		chunk := w.scratch[:min(size-rc.sendOff, len(w.scratch), room)]
		fillPattern(chunk, requestSeed(rc.id, rc.nextSeq), rc.sendOff)
		n, err := rc.c.SendSome(chunk)
		rc.sendOff += n
		rc.sentBytes += uint64(n)
		if rc.sendOff == size {
			rc.nextSeq++
			rc.sendOff = 0
		}
		switch {
		case errors.Is(err, rio.ErrSendPoolExhausted):
			rc.waiting = true
			w.pending = append(w.pending, rc)
		case errors.Is(err, rio.ErrConnClosing):
			return // closing on its own: OnClose tells why
		case err != nil:
			w.fail(rc, fmt.Sprintf("conn %d request %d: queueing: %v", rc.id, rc.nextSeq, err))
		}
	}
}

// retry offers the send pool to the waiting connections again, in order.
func (w *ringWorker) retry(now time.Duration) {
	list := w.pending
	w.pending = w.spare[:0]
	for _, rc := range list {
		rc.waiting = false
		w.pump(rc, now)
	}
	w.spare = list[:0]
}

// fail records an error of the connection and resets it: its stream can no
// longer be trusted.
func (w *ringWorker) fail(rc *ringConn, msg string) {
	rc.done = true
	w.errs.add(msg)
	rc.c.Abort()
}

// dialFailed records a connection that could not be made.
func (w *ringWorker) dialFailed(rc *ringConn, err error) {
	if w.dialErr == nil {
		w.dialErr = err
	}
	w.errs.add(fmt.Sprintf("conn %d: %v", rc.id, err))
}
