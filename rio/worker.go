//go:build linux

package rio

import (
	"fmt"
	"log/slog"
	"runtime"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ringline-go/ringline/internal/backend"
	"github.com/ringline-go/ringline/internal/offheap"
)

// Worker is one event loop: an OS thread of its own, one backend (a ring),
// a listener when serving, and the connections it accepted or dialed. Its
// methods that act (Dial, AfterFunc, At) must be called on the worker
// itself: from a Handler method, a timer or a function given to Server.Run.
type Worker struct {
	id  int
	srv *Server
	cfg Config
	h   Handler
	log *slog.Logger

	be    backend.Backend
	arena *offheap.Arena // off-heap memory: timespecs, the wake buffer

	conns  slotTable // connection slots, made as connections arrive
	msgs   msgPool   // msghdrs of sends and sockaddrs of connects in flight
	nconns int
	budget int // bytes one connection may have queued: SendBudget, at most the pool

	listenFd  int  // -1 when not serving or closed
	accepting bool // the multishot accept is armed
	acceptErr bool // an accept failed: re-arm at the next iteration

	pool   sendPool
	timers timerTable
	files  fileTable
	dgram  dgramRecv  // the UDP socket's receive (ListenUDP)
	dsend  dgramSends // the UDP send pool
	uconns udpConns   // connected datagram sockets (DialUDP)

	dirty     []uint32      // connections with sends to issue at the end of the iteration
	paused    []connRef     // connections a refused send paused, oldest first
	starved   []connRef     // connections whose receive found the buffer ring empty
	starvedAt time.Duration // when the first of them was listed, since started
	freed     bool          // a receive buffer went back since starved was last fed

	inData   bool // an OnData call is running
	refusals want // what the sends refused during that OnData call need

	rx      rxBuf    // the receive buffer OnData is being handed, if any
	rxRefs  []uint32 // per receive buffer: queued sends forwarding part of it
	held    int      // forwarding segments queued on all connections
	heldCap int      // the most one connection may queue: its budget in whole buffers

	wakeFd  int
	wakeBuf []byte // off-heap, 8 bytes
	posts   postQueue

	tlsNotes tlsNotes // TLS handshakes with news for the worker
	tlsBuf   []byte   // plaintext of one TLS record, for OnData

	stopping  bool         // Shutdown or Close asked; no more accepts
	stopLevel int32        // the stop level acted on
	stopReq   atomic.Int32 // the stop level asked for, from any goroutine

	started time.Time     // when the loop began: yieldNow's clock
	yielded time.Duration // when the loop last yielded, since started

	stats workerCounters
}

// testHookBackend, when set by a test before a server starts, wraps each
// worker's backend (fault injection on top of the real engine) or fails its
// set-up.
var testHookBackend func(backend.Backend) (backend.Backend, error)

// connRef names one connection slot at one generation.
type connRef struct{ idx, gen uint32 }

// ID returns the worker's index, from 0.
func (w *Worker) ID() int { return w.id }

// Server returns the server the worker belongs to.
func (w *Worker) Server() *Server { return w.srv }

// Conns returns the number of connections the worker holds.
func (w *Worker) Conns() int { return w.nconns }

// newWorker allocates what a worker needs that does not depend on its
// thread; the backend is set up by run, on the worker's locked thread.
func newWorker(srv *Server, id int, listenFd int) (*Worker, error) {
	cfg := srv.cfg
	w := &Worker{
		id: id, srv: srv, cfg: cfg, h: srv.h, log: cfg.Logger,
		listenFd: listenFd, wakeFd: -1,
		conns:  slotTable{max: cfg.MaxConns},
		budget: min(cfg.SendBudget, cfg.SendSlots*cfg.SendSlotSize),
		rxRefs: make([]uint32, cfg.BufEntries),
	}
	w.heldCap = max(1, w.budget/cfg.BufSize)
	var err error
	if w.arena, err = offheap.New(cfg.TimerSlots*16 + 4096); err != nil {
		return nil, err
	}
	if w.wakeBuf, err = w.arena.Alloc(8, 8); err == nil {
		err = w.timers.init(w.arena, cfg.TimerSlots)
	}
	if err == nil {
		err = w.pool.init(cfg.SendSlots, cfg.SendSlotSize)
	}
	if err == nil {
		w.wakeFd, err = unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
		if err != nil {
			err = fmt.Errorf("rio: worker %d: eventfd: %w", id, err)
		}
	}
	if err != nil {
		w.release()
		return nil, err
	}
	w.posts.init(cfg.PostQueue, w)
	return w, nil
}

// release frees what newWorker allocated; nothing may be in flight.
func (w *Worker) release() {
	w.pool.close()
	w.dsend.close()
	w.conns.close()
	w.msgs.close()
	if w.wakeFd >= 0 {
		unix.Close(w.wakeFd)
		w.wakeFd = -1
	}
	if w.arena != nil {
		w.arena.Close()
	}
}

// run is the worker's goroutine. It locks its thread, pins it if asked,
// sets the backend up there and reports the outcome on ready, then loops.
// The thread is never unlocked: when the goroutine ends, the runtime ends
// the thread with it, so a pinned CPU mask cannot leak to other goroutines.
func (w *Worker) run(ready chan<- error) {
	runtime.LockOSThread()
	err := w.start()
	ready <- err
	if err == nil {
		w.loop()
	}
	w.exit()
}

func (w *Worker) start() error {
	if w.cfg.Pin {
		if err := pinThread(w.id); err != nil {
			return fmt.Errorf("rio: worker %d: %w", w.id, err)
		}
	}
	be, err := w.srv.newBackend(backend.Config{
		Entries: w.cfg.SQEntries, SQPoll: w.cfg.SQPoll,
		BufEntries: w.cfg.BufEntries, BufSize: w.cfg.BufSize,
		FileOps: w.cfg.FileOps, FileThreads: w.cfg.FileThreads,
		DgramEntries: w.cfg.DgramEntries, DgramSize: dgramBufSize(w.cfg),
	})
	if err != nil {
		return fmt.Errorf("rio: worker %d: %w", w.id, err)
	}
	if testHookBackend != nil {
		wrapped, err := testHookBackend(be)
		if err != nil {
			be.Close()
			return fmt.Errorf("rio: worker %d: %w", w.id, err)
		}
		be = wrapped
	}
	w.be = be
	w.armWake()
	if w.listenFd >= 0 {
		w.armListener()
	}
	return nil
}

// loop runs the phases of an iteration until the worker is stopping and
// holds nothing more:
//
//	submit and reap   one Wait: queued operations in, completions out
//	dispatch          each completion to its handling
//	retry paused      OnData again for connections a refused send paused
//	feed starved      receives that found no buffer, once one is back
//	posted work       functions from other goroutines, OnNotify
//	TLS handshakes    their records to send; OnOpen once one succeeded
//	issue sends       one coalesced sendmsg per connection with queued sends
//	tick              OnTick
func (w *Worker) loop() {
	w.callWorker("OnStart", w.h.OnStart)
	w.started = time.Now()
	for {
		cqes, err := w.be.Wait(1, w.cfg.TickInterval)
		for i := range cqes {
			w.dispatch(&cqes[i])
		}
		if err != nil {
			w.stats.waitErrors.Add(1)
			w.logError("wait", err)
		}
		w.stats.cqes.Add(uint64(len(cqes)))
		w.retryPaused()
		w.feedStarved()
		w.runPosted() // before the sends: what posted work queued goes out in this iteration's Wait
		w.runTLS()
		w.issueSends()
		if w.acceptErr && !w.acceptStopped() {
			w.acceptErr = false
			w.armListener()
		}
		if r := w.stopReq.Load(); r > w.stopLevel {
			first := w.stopLevel == 0
			w.stopLevel = r
			w.stop(r == stopNow)
			if first {
				w.srv.workerStopped()
			}
		}
		w.yieldNow()
		w.stats.loops.Add(1)
		w.stats.conns.Store(int64(w.nconns))
		w.stats.sqFull.Store(w.be.SQFull())
		w.callWorker("OnTick", w.h.OnTick)
		if w.stopping && w.nconns == 0 && w.listenFd < 0 && w.files.inflight == 0 && w.files.closes == 0 && w.dsend.busy() == 0 && w.uconns.inUse() == 0 {
			return
		}
	}
}

// yieldEvery is how often a busy worker passes through the Go scheduler.
// The runtime's sysmon takes the P away from a goroutine that has not been
// rescheduled for 10 ms whenever it is in a system call, and then keeps
// doing so at every sysmon tick, each time waking a spare thread to run the
// P: thousands of context switches a second for a worker that never yields.
// One Gosched every few milliseconds costs a couple of switches instead.
const yieldEvery = 8 * time.Millisecond

// yieldNow runs runtime.Gosched once yieldEvery has passed since the last.
func (w *Worker) yieldNow() {
	if now := time.Since(w.started); now-w.yielded >= yieldEvery {
		w.yielded = now
		runtime.Gosched()
	}
}

// dispatch hands one completion to the handling of its operation.
func (w *Worker) dispatch(c *backend.Completion) {
	o, slot, gen := parseUserData(c.UserData)
	switch o {
	case opRecv:
		w.onRecv(c, slot, gen)
	case opSend:
		w.onSend(c, slot, gen)
	case opPollOut:
		w.onPollOut(c, slot, gen)
	case opAccept:
		w.onAccept(c)
	case opConnect:
		w.onConnect(c, slot, gen)
	case opShutdown:
		w.onShutdown(c, slot, gen)
	case opTimer:
		w.onTimer(c, slot, gen)
	case opWake:
		w.onWake(c)
	case opFile:
		w.onFile(c, slot, gen)
	case opFileClose:
		w.onFileClose(c, slot, gen)
	case opDgram:
		w.onDgram(c)
	case opUDPConnRecv:
		w.onUDPConnRecv(c, slot, gen)
	case opDgramSend:
		w.onDgramSend(c, slot, gen)
	case opClose, opCancel:
		// Nothing waits on these: the slot was released when they were issued.
	default:
		w.stats.unknownTags.Add(1)
	}
}

// exit closes what the worker still holds once its loop has ended (or its
// start failed): the backend (cancelling anything in flight), the listener
// and its memory. Functions still queued for it are dropped.
func (w *Worker) exit() {
	w.posts.close()
	w.tlsNotes.wg.Wait() // every connection is closed: its pipe too
	if w.be != nil {
		if _, err := w.be.Wait(0, 0); err != nil { // hand over the last closes
			w.logError("wait", err)
		}
		if err := w.be.Close(); err != nil {
			w.logError("backend close", err)
		}
	}
	w.failFileOps()
	w.closeUDPConnFds()
	w.closeListenFd()
	w.release()
	w.srv.workerDone(w)
}

// logError logs a rare event when a Logger was configured.
func (w *Worker) logError(what string, err error) {
	if w.log != nil {
		w.log.Error("rio: "+what, "worker", w.id, "err", err)
	}
}

// stop begins the worker's end: no more accepts; every connection is closed
// gracefully (now false) or at once (now true), with ErrServerClosed. At
// StopAccepting's level it closes the listener only.
func (w *Worker) stop(now bool) {
	if w.stopLevel == stopAccept { // StopAccepting: the connections are served on
		w.closeListener()
		return
	}
	w.stopping = true
	w.closeListener()
	w.stopUDPConns()
	if now {
		w.cancelFileOps()
	}
	for i := range uint32(w.conns.made()) {
		s := w.conns.at(i)
		switch {
		case s.state == connFree:
		case now:
			w.closeNow(s, i, ErrServerClosed)
		default:
			w.closeGraceful(s, i, ErrServerClosed)
		}
	}
}
