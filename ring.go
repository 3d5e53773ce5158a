//go:build linux && cgo

package ringline

// #include "liburing_shim.h"
import "C"

import (
	"errors"
	"fmt"
	"syscall"
	"time"
	"unsafe"
)

// DefaultRingEntries is the submission queue size when RingConfig.Entries is 0.
const DefaultRingEntries = 256

// MaxRingEntries is the largest submission queue: the completion queue is
// four times larger and the kernel caps it at 65536.
const MaxRingEntries = 16384

// RingConfig sets up a Ring. The zero value is valid.
type RingConfig struct {
	// Entries is the submission queue size: a power of two up to
	// MaxRingEntries; 0 means DefaultRingEntries. The completion queue gets
	// four times as many entries.
	Entries uint32
	// SQPoll starts a kernel thread that polls the submission queue
	// (IORING_SETUP_SQPOLL). The kernel refuses DEFER_TASKRUN and
	// COOP_TASKRUN with it, so those are left off.
	SQPoll bool
	// SQPollIdle is how long the polling thread spins before sleeping; 0 lets
	// the kernel choose (one second).
	SQPollIdle time.Duration
	// PinSQPoll pins the polling thread to SQPollCPU (IORING_SETUP_SQ_AFF).
	PinSQPoll bool
	// SQPollCPU is the CPU of the polling thread when PinSQPoll is set.
	SQPollCPU uint32
	// MaxCompletions is how many completions one call copies out at most,
	// up to the completion queue size (also the default, for 0). Any left
	// are returned by the next call.
	MaxCompletions uint32
}

func (c RingConfig) withDefaults() RingConfig {
	if c.Entries == 0 {
		c.Entries = DefaultRingEntries
	}
	if c.MaxCompletions == 0 || c.MaxCompletions > 4*c.Entries {
		c.MaxCompletions = 4 * c.Entries
	}
	return c
}

// Validate reports the first field that is out of range.
func (c RingConfig) Validate() error {
	c = c.withDefaults()
	if c.Entries > MaxRingEntries || c.Entries&(c.Entries-1) != 0 {
		return fmt.Errorf("ringline: RingConfig.Entries = %d: want a power of two from 1 to %d", c.Entries, MaxRingEntries)
	}
	if !c.SQPoll && (c.PinSQPoll || c.SQPollIdle != 0) {
		return fmt.Errorf("ringline: RingConfig.PinSQPoll/SQPollIdle are set but SQPoll is off")
	}
	if c.SQPollIdle < 0 || c.SQPollIdle > time.Duration(^uint32(0))*time.Millisecond {
		return fmt.Errorf("ringline: RingConfig.SQPollIdle = %v: want 0 to %d ms", c.SQPollIdle, ^uint32(0))
	}
	return nil
}

func (c RingConfig) setupFlags() uint32 {
	flags := uint32(setupSQE128 | setupCQE32 | setupCQSize | setupSingleIssuer)
	if c.SQPoll {
		flags |= setupSQPoll
		if c.PinSQPoll {
			flags |= setupSQAff
		}
	} else {
		flags |= setupCoopTaskrun | setupDeferTaskrun
	}
	return flags
}

// Ring is one io_uring with 128-byte SQEs and 32-byte CQEs, so NVMe
// passthrough and network I/O share it.
//
// The Submit* methods only append a descriptor to a batch in C memory; the
// kernel sees the batch at the next Submit, Flush, SubmitAndWait or
// SubmitAndWaitTimeout, which prep, submit, wait and copy completions in a
// single cgo call.
//
// Every operation works on Linux 6.1, which NewRing requires (SQE128,
// SINGLE_ISSUER, DEFER_TASKRUN); a helper needing more says so.
//
// A Ring belongs to one OS thread: it is set up with
// IORING_SETUP_SINGLE_ISSUER, so the goroutine that calls NewRing must have
// called runtime.LockOSThread and must make every later call itself. It is
// not safe for concurrent use; the race detector reports misuse through the
// deliberately unsynchronised pending counter.
type Ring struct {
	c       *cRing       // C-owned ring and batch; nil after Close
	ops     []cOp        // view of c.ops: the batch, cap = entries
	cmds    []byte       // view of c.cmds: one uring_cmd area per descriptor
	cqes    []Completion // view of c.cqes: completions of the last call
	entries int          // SQ size
	flags   uint32       // setup flags the kernel accepted
	pending int          // descriptors queued in ops, not yet prepped

	link     linkState
	files    uint32              // fixed-file table size, 0 if none
	buffers  uint32              // fixed-buffer table size, 0 if none
	bufRings map[uint16]*BufRing // provided buffer rings, unregistered by Close
	stats    RingStats
}

// linkState tracks an open chain started by Link.
type linkState struct {
	left  int // descriptors still to join the chain
	start int // index of the chain's first descriptor in ops
}

// RingStats counts what a Ring did. Read it with Ring.Stats.
type RingStats struct {
	Crossings     uint64 // cgo calls that submitted or reaped
	Submitted     uint64 // descriptors turned into SQEs (the kernel may still refuse to take them)
	Completions   uint64 // completions copied out
	SQFull        uint64 // submissions refused because the SQ stayed full
	ChainsRefused uint64 // linked chains refused as larger than the free SQ space
	BadKinds      uint64 // descriptors of no known kind, completed with -EINVAL (a ringline bug)
}

// NewRing sets up an io_uring with IORING_SETUP_SQE128|CQE32|CQSIZE (CQ = 4 x
// SQ)|SINGLE_ISSUER and, unless SQPoll is set, COOP_TASKRUN|DEFER_TASKRUN;
// Linux 6.1 or newer. Setup failures explain themselves: io_uring disabled by
// sysctl or seccomp (EPERM), missing from the kernel (ENOSYS), a flag the
// kernel lacks (EINVAL), the locked-memory limit (ENOMEM).
func NewRing(cfg RingConfig) (*Ring, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	var p C.struct_io_uring_params
	p.flags = C.__u32(cfg.setupFlags())
	p.cq_entries = C.__u32(4 * cfg.Entries)
	p.sq_thread_idle = C.__u32(cfg.SQPollIdle / time.Millisecond)
	p.sq_thread_cpu = C.__u32(cfg.SQPollCPU)
	var c *cRing
	if ret := C.rl_setup(&c, C.uint(cfg.Entries), &p, C.uint(cfg.MaxCompletions)); ret < 0 {
		return nil, setupError(int(ret), cfg)
	}
	return &Ring{
		c:        c,
		ops:      unsafe.Slice(c.ops, cfg.Entries),
		cmds:     unsafe.Slice((*byte)(c.cmds), int(cfg.Entries)*cmdAreaSize),
		cqes:     unsafe.Slice((*Completion)(unsafe.Pointer(c.cqes)), cfg.MaxCompletions),
		entries:  int(cfg.Entries),
		flags:    uint32(c.ring.flags),
		bufRings: make(map[uint16]*BufRing),
	}, nil
}

// Close cancels every operation in flight and waits for the cancellations,
// unregisters and unmaps the provided buffer rings, tears the ring down and
// frees its memory. Queued descriptors are dropped. Call it from the ring's
// thread: from another the kernel refuses the cancellation and the
// unregistration, and the buffer rings' memory is then left mapped rather than
// freed under the kernel. Closing twice is harmless.
func (r *Ring) Close() error {
	if r.c == nil {
		return nil
	}
	ret := int(C.rl_sync_cancel(r.c, cancelAny, -1))
	first := errnoError("cancel all (io_uring_register_sync_cancel)", ret, "")
	for _, b := range r.bufRings {
		if err := b.Close(); err != nil && first == nil {
			first = err
		}
	}
	C.rl_close(r.c)
	*r = Ring{}
	return first
}

// Entries returns the submission queue size.
func (r *Ring) Entries() int { return r.entries }

// CQEntries returns the completion queue size the kernel set up.
func (r *Ring) CQEntries() int {
	if r.c == nil {
		return 0
	}
	return int(r.c.ring.cq.ring_entries)
}

// SetupFlags returns the IORING_SETUP_* flags the ring was created with.
func (r *Ring) SetupFlags() uint32 { return r.flags }

// Pending returns how many operations are queued for the next submit.
func (r *Ring) Pending() int { return r.pending }

// Stats returns the ring's counters.
func (r *Ring) Stats() RingStats { return r.stats }

// free is the SQ space still open to new descriptors: the SQ size less what
// the kernel has not consumed yet and what is queued.
func (r *Ring) free() int { return r.entries - int(r.c.sq_left) - r.pending }

// Link opens a chain: the next n submissions are linked with IOSQE_IO_LINK
// (all but the last), so the kernel runs them in order and a failure cancels
// the rest. Room for all n is reserved now. A chain larger than the free SQ
// space after one submit is refused whole with ErrChainTooLarge; a chain is
// never split. If one of its submissions fails, the whole chain is dropped.
func (r *Ring) Link(n int) error {
	switch {
	case r.c == nil:
		return ErrRingClosed
	case r.link.left > 0:
		return ErrChainOpen
	case n < 1:
		return fmt.Errorf("ringline: Link(%d): a chain needs at least one operation", n)
	case n > r.entries:
		r.stats.ChainsRefused++
		return fmt.Errorf("%w: %d operations, the SQ has %d entries", ErrChainTooLarge, n, r.entries)
	}
	if n > r.free() {
		if err := r.makeRoom(n); err != nil {
			r.stats.ChainsRefused++
			return fmt.Errorf("%w: %d operations, %d free of %d: %w", ErrChainTooLarge, n, r.free(), r.entries, err)
		}
	}
	r.link = linkState{left: n, start: r.pending}
	return nil
}

// sqPollWait bounds how long a full SQ waits for the SQPOLL thread.
const sqPollWait = time.Second

// makeRoom submits the queued operations once and, with SQPOLL, waits up to
// sqPollWait for the polling thread to consume SQEs, so that n descriptors
// fit. (The kernel's wait returns early when a signal arrives, such as the Go
// runtime's preemption signal, hence the loop.)
func (r *Ring) makeRoom(n int) error {
	err := r.Submit()
	if r.flags&setupSQPoll != 0 {
		for deadline := time.Now().Add(sqPollWait); err == nil && n > r.free() && time.Now().Before(deadline); {
			if ret := int(C.rl_sqring_wait(r.c)); ret != -int(syscall.EINTR) {
				err = errnoError("io_uring_sqring_wait", ret, "")
			}
		}
	}
	if n <= r.free() {
		return nil
	}
	if err == nil {
		err = fmt.Errorf("the kernel has not consumed the submission queue")
	}
	return err
}

// linkNext links the next submission to the one after it: a chain of two,
// for the *Linked helpers. Inside an open chain it refuses with ErrChainOpen.
func (r *Ring) linkNext() error {
	if r.link.left > 0 {
		return r.abortChain(fmt.Errorf("%w: a *Linked helper starts its own chain; use Link(n) for longer ones", ErrChainOpen))
	}
	return r.Link(2)
}

// abortChain drops an open chain whole after one of its submissions failed.
func (r *Ring) abortChain(err error) error {
	if r.link.left == 0 {
		return err
	}
	r.pending = r.link.start
	r.link = linkState{}
	return fmt.Errorf("%w (the open linked chain was dropped whole)", err)
}

// push appends a descriptor and returns it for the caller to fill in. A full
// batch is submitted once and retried; if the SQ is still full the
// submission is refused with ErrSQFull and counted.
func (r *Ring) push(kind uint8, ud UserData, sqeFlags uint8) (*cOp, error) {
	if r.c == nil {
		return nil, ErrRingClosed
	}
	if r.free() <= 0 && r.link.left == 0 { // an open chain has its room reserved
		if err := r.makeRoom(1); err != nil {
			r.stats.SQFull++
			return nil, fmt.Errorf("%w: %d entries, %d not yet consumed by the kernel: %w", ErrSQFull, r.entries, r.c.sq_left, err)
		}
	}
	if r.link.left > 0 {
		if r.link.left > 1 {
			sqeFlags |= sqeIOLink
		}
		r.link.left--
	}
	op := &r.ops[r.pending]
	r.pending++
	*op = cOp{user_data: C.uint64_t(ud), kind: C.uint8_t(kind), sqe_flags: C.uint8_t(sqeFlags)}
	return op, nil
}

// pushFixed appends an operation on fixed-file slot with user_data
// tag|slot|payload, checking the slot against the registered table.
func (r *Ring) pushFixed(kind uint8, tag Tag, slot, payload uint32, sqeFlags uint8) (*cOp, error) {
	ud, err := NewUserData(tag, slot, payload)
	if err != nil {
		return nil, r.abortChain(err)
	}
	return r.pushFixedUD(kind, slot, ud, sqeFlags)
}

// pushFixedUD appends an operation on fixed-file slot with the caller's user_data.
func (r *Ring) pushFixedUD(kind uint8, slot uint32, ud UserData, sqeFlags uint8) (*cOp, error) {
	op, err := r.pushSlot(kind, slot, ud, sqeFlags|sqeFixedFile)
	if err == nil {
		op.fd = C.int32_t(slot)
	}
	return op, err
}

// pushSlot appends an operation that names fixed-file slot (as its file, or
// as the slot it closes or opens into), checking it against the table.
func (r *Ring) pushSlot(kind uint8, slot uint32, ud UserData, sqeFlags uint8) (*cOp, error) {
	if slot >= r.files {
		return nil, r.abortChain(slotError("fixed file", slot, r.files))
	}
	return r.push(kind, ud, sqeFlags)
}

// Submit hands the queued operations to the kernel without waiting and
// without reaping: completions stay in the completion queue for the next
// Flush or SubmitAndWait.
func (r *Ring) Submit() error {
	_, err := r.enter(callSubmit, 0, 0, false)
	return err
}

// Flush submits the queued operations and, in the same io_uring_enter, asks
// the kernel to run deferred task work (IORING_ENTER_GETEVENTS), so
// completions of a DEFER_TASKRUN ring land at once; then it returns the
// completions ready, without waiting.
//
// The slice returned by Flush, SubmitAndWait and SubmitAndWaitTimeout lives
// in C memory: it is valid until the next call that submits or reaps, or
// Close. Completions returned together with an error are real and already
// released from the completion queue: handle them before the error.
func (r *Ring) Flush() ([]Completion, error) {
	return r.enter(callGetEvents, 0, 0, true)
}

// SubmitAndWait submits the queued operations, waits until at least n
// completions are ready and returns them (up to RingConfig.MaxCompletions).
// A signal can end the wait early, with fewer completions and no error; with
// n = 0 it behaves as Flush.
func (r *Ring) SubmitAndWait(n int) ([]Completion, error) {
	if n <= 0 {
		return r.Flush()
	}
	return r.enter(callWait, n, 0, true)
}

// SubmitAndWaitTimeout is SubmitAndWait giving up after d; a timeout is not
// an error, and whatever completions are ready are returned.
func (r *Ring) SubmitAndWaitTimeout(n int, d time.Duration) ([]Completion, error) {
	if n <= 0 {
		return r.Flush()
	}
	return r.enter(callWaitTimeout, n, max(d, 0), true)
}

// enter is the one cgo crossing: prep the batch, submit, wait, reap. call
// names the liburing call to make (callSubmit, ...): the choice is made here,
// in Go, and the C side only translates it. waitNr and timeout go to the calls
// that take them.
func (r *Ring) enter(call uint32, waitNr int, timeout time.Duration, reap bool) ([]Completion, error) {
	if r.c == nil {
		return nil, ErrRingClosed
	}
	if r.link.left > 0 {
		return nil, fmt.Errorf("%w: %d more operations expected", ErrChainOpen, r.link.left)
	}
	maxCQEs := 0
	if reap {
		maxCQEs = len(r.cqes)
	}
	queued := r.pending
	got := int(C.rl_enter(r.c, C.uint(queued), C.uint(call), C.uint(max(waitNr, 0)), C.longlong(timeout), C.uint(maxCQEs)))
	r.stats.Crossings++
	r.stats.Submitted += uint64(r.c.prepped)
	r.stats.Completions += uint64(got)
	r.pending = queued - int(r.c.prepped)
	if r.pending != 0 {
		// push and Link never queue more than the free SQ space.
		panic(fmt.Sprintf("ringline: %d of %d descriptors found no SQE", r.pending, queued))
	}
	err := enterError(int(r.c.err))
	if bad := uint64(r.c.bad_kinds); bad != 0 {
		r.stats.BadKinds += bad
		err = errors.Join(badKindsError(bad), err)
	}
	return r.cqes[:got], err
}

// badKindsError reports descriptors the C shim knew no kind for. Go queues
// only its own kind constants, so this is a ringline bug. Each such
// descriptor was turned into a NOP that completes with -EINVAL under its own
// user_data (Linux 6.6+; an older kernel completes it with 0, hence this
// error as well), never left to rerun its SQE slot's previous operation.
func badKindsError(n uint64) error {
	return &Error{Op: "prep", Errno: syscall.EINVAL, Hint: fmt.Sprintf("%d descriptors of unknown kind were refused; each completes with -EINVAL (a ringline bug)", n)}
}
