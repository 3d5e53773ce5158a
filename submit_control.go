//go:build linux && cgo

package ringline

// #include "liburing_shim.h"
import "C"

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// Timeouts, cancellation, polls on raw descriptors, the eventfd read and NOPs.

// SubmitTimeout arms a relative timeout (Linux 5.4+) that completes with
// -ETIME when it fires or -ECANCELED when cancelled. ts: off-heap
// (Arena.Timespec); the kernel copies it at submission, but keep it valid
// until the completion.
func (r *Ring) SubmitTimeout(ts *unix.Timespec, ud UserData) error {
	return r.timeout(ts, ud, 0)
}

// SubmitTimeoutAbs arms a timeout at an absolute CLOCK_MONOTONIC time
// (IORING_TIMEOUT_ABS). ts follows SubmitTimeout's rules.
func (r *Ring) SubmitTimeoutAbs(ts *unix.Timespec, ud UserData) error {
	return r.timeout(ts, ud, timeoutAbs)
}

// SubmitTickTimeout arms the loop's tick: a relative timeout tagged
// TagTickTimeout.
func (r *Ring) SubmitTickTimeout(ts *unix.Timespec) error {
	ud, _ := NewUserData(TagTickTimeout, 0, 0)
	return r.timeout(ts, ud, 0)
}

func (r *Ring) timeout(ts *unix.Timespec, ud UserData, flags uint32) error {
	op, err := r.push(kindTimeout, ud, 0)
	if err == nil {
		op.addr, op.flags = ptrAddr(ts), C.uint32_t(flags)
	}
	return err
}

// SubmitAsyncCancel cancels the operation submitted with target (Linux 5.5+).
// Its own completion (tag TagCancel, index conn) gives 0, -ENOENT when
// nothing matched, or -EALREADY when the target was already running; the
// target completes with -ECANCELED. It matches by user_data and cancels the
// first match only (cancelUserData: no IORING_ASYNC_CANCEL_* flag).
func (r *Ring) SubmitAsyncCancel(target UserData, conn uint32) error {
	ud, err := NewUserData(TagCancel, conn, 0)
	if err != nil {
		return r.abortChain(err)
	}
	op, err := r.push(kindCancel, ud, 0)
	if err == nil {
		op.addr, op.flags = C.uint64_t(target), cancelUserData
	}
	return err
}

// SubmitPollAdd waits once for mask (POLLIN, ...) on a raw descriptor, such
// as a pidfd that becomes readable when its process exits.
func (r *Ring) SubmitPollAdd(fd int, mask uint32, ud UserData) error {
	op, err := r.push(kindPollAdd, ud, 0)
	if err == nil {
		op.fd, op.len = C.int32_t(fd), C.uint32_t(mask)
	}
	return err
}

// SubmitEventfdRead reads the 8-byte counter of eventfd into buf (tag
// TagEventFdRead). buf: at least 8 bytes, off-heap, valid until the completion.
func (r *Ring) SubmitEventfdRead(eventfd int, buf []byte) error {
	ud, _ := NewUserData(TagEventFdRead, 0, 0)
	return r.SubmitEventfdReadUD(eventfd, buf, ud)
}

func eventfdBufError(n int) error {
	return fmt.Errorf("ringline: eventfd read needs an 8-byte buffer, got %d", n)
}

// SubmitNop queues a NOP that completes with result 0.
func (r *Ring) SubmitNop(ud UserData) error {
	_, err := r.push(kindNop, ud, 0)
	return err
}

// SubmitNopInject queues a NOP that completes with result res
// (IORING_NOP_INJECT_RESULT, Linux 6.6+): fault injection for tests, so
// error paths run through the real reaping and dispatch.
func (r *Ring) SubmitNopInject(ud UserData, res int32) error {
	op, err := r.push(kindNop, ud, 0)
	if err == nil {
		op.len, op.flags = C.uint32_t(uint32(res)), nopInjectResult
	}
	return err
}

// SubmitNopInjectLinked is SubmitNopInject linked to the next submission, as
// a chain of two (see Link): a negative res cancels that next one.
func (r *Ring) SubmitNopInjectLinked(ud UserData, res int32) error {
	if err := r.linkNext(); err != nil {
		return err
	}
	return r.SubmitNopInject(ud, res)
}

// SubmitNopInjectExtra is SubmitNopInject that also fills the 16 extra bytes
// of the 32-byte completion with extra (IORING_NOP_CQE32; Linux 6.18 has it,
// older kernels answer -EINVAL), as an NVMe passthrough completion carries
// its result there.
func (r *Ring) SubmitNopInjectExtra(ud UserData, res int32, extra [2]uint64) error {
	op, err := r.push(kindNop, ud, 0)
	if err == nil {
		op.len, op.flags = C.uint32_t(uint32(res)), nopInjectResult|nopCQE32
		op.off, op.addr = C.uint64_t(extra[0]), C.uint64_t(extra[1])
	}
	return err
}
