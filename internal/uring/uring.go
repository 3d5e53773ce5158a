//go:build linux && cgo

// Package uring is the io_uring engine: it implements the backend contract
// (internal/backend) over the binding's Ring, with one provided-buffer ring
// for every receive. Each contract method queues one descriptor; Wait is the
// worker loop's one cgo crossing.
package uring

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/ringline-go/ringline"
	"github.com/ringline-go/ringline/internal/backend"
)

// engine is one worker's io_uring engine: the binding's Ring and one
// provided-buffer ring (group recvGroup) for every receive, and nothing else.
//
// The receive buffers are handed to the kernel as demand grows, not all at
// once: the kernel takes buffers from the ring in order and a returned one
// goes to the back, so a ring holding every buffer would have each of them
// written (made resident) in turn, even when a few are in use at a time.
// It starts with firstBuffers and doubles whenever more than three quarters
// of those provided are with the worker, so the memory touched follows the
// most buffers in use at any reap.
type engine struct {
	ring     *ringline.Ring
	bufs     *ringline.BufRing
	entries  int // buffers in the ring's memory
	provided int // buffers handed to the kernel so far: ids 0 to provided-1
	out      int // provided buffers filled and not yet released

	dgrams   *ringline.BufRing // the datagram pool (group dgramGroup); nil until the first RecvMsg
	dgramCfg [2]int            // its entries and buffer size
}

// The binding's Completion and the contract's are the same 32 bytes, so a
// reaped batch is handed to the worker without copying.
var _ [unsafe.Sizeof(ringline.Completion{}) - unsafe.Sizeof(backend.Completion{})]struct{}
var _ [unsafe.Sizeof(backend.Completion{}) - unsafe.Sizeof(ringline.Completion{})]struct{}

const (
	recvGroup  = 0
	dgramGroup = 1
)

// firstBuffers is how many receive buffers the kernel is given at first.
const firstBuffers = 64

// New sets up a ring and its receive buffers on the calling
// thread, which must be locked (runtime.LockOSThread) and stay the only one
// to use it.
func New(cfg backend.Config) (backend.Backend, error) {
	ring, err := ringline.NewRing(ringline.RingConfig{Entries: uint32(cfg.Entries), SQPoll: cfg.SQPoll})
	if err != nil {
		return nil, err
	}
	first := min(firstBuffers, cfg.BufEntries)
	bufs, err := ring.RegisterBufRingFirst(recvGroup, cfg.BufEntries, cfg.BufSize, first)
	if err != nil {
		return nil, errors.Join(err, ring.Close())
	}
	return &engine{ring: ring, bufs: bufs, entries: cfg.BufEntries, provided: first, dgramCfg: [2]int{cfg.DgramEntries, cfg.DgramSize}}, nil
}

func (u *engine) Name() string { return "io_uring" }

func (u *engine) Accept(fd int, ud uint64) error {
	return u.ring.SubmitMultishotAcceptFd(fd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, ringline.UserData(ud))
}

func (u *engine) Recv(fd int, ud uint64) error {
	return u.ring.SubmitMultishotRecvFd(fd, recvGroup, ringline.UserData(ud))
}

func (u *engine) Buffer(id uint16) []byte { return u.bufs.Buffer(id) }

func (u *engine) Release(id uint16) {
	u.bufs.Add(id)
	u.out--
}

// provideMore doubles the buffers handed to the kernel when more than
// three quarters of them are with the worker.
func (u *engine) provideMore() {
	if u.provided == u.entries || u.provided-u.out >= u.provided/4 {
		return
	}
	n := min(u.provided, u.entries-u.provided)
	for id := u.provided; id < u.provided+n; id++ {
		u.bufs.Add(uint16(id))
	}
	u.provided += n
}

// RecvMsg arms a multishot recvmsg into the datagram pool, registering the
// pool (every buffer handed over: datagram pools are small) on first use.
func (u *engine) RecvMsg(fd int, msg *unix.Msghdr, ud uint64) error {
	if u.dgrams == nil {
		if u.dgramCfg[0] == 0 {
			return errors.New("io_uring engine: no datagram pool configured")
		}
		d, err := u.ring.RegisterBufRing(dgramGroup, u.dgramCfg[0], u.dgramCfg[1])
		if err != nil {
			return err
		}
		u.dgrams = d
	}
	return u.ring.SubmitMultishotRecvMsgFd(fd, msg, unix.MSG_TRUNC, dgramGroup, ringline.UserData(ud))
}

func (u *engine) DgramBuffer(id uint16) []byte { return u.dgrams.Buffer(id) }

func (u *engine) DgramRelease(id uint16) { u.dgrams.Add(id) }

func (u *engine) SendDgram(fd int, msg *unix.Msghdr, ud uint64) error {
	return u.ring.SubmitSendMsgFd(fd, msg, 0, ringline.UserData(ud))
}

func (u *engine) SendMsg(fd int, msg *unix.Msghdr, ud uint64) error {
	return u.ring.SubmitSendMsgFd(fd, msg, unix.MSG_NOSIGNAL, ringline.UserData(ud))
}

func (u *engine) PollOut(fd int, ud uint64) error {
	return u.ring.SubmitPollAdd(fd, unix.POLLOUT, ringline.UserData(ud))
}

func (u *engine) Connect(fd int, sa []byte, ud uint64) error {
	return u.ring.SubmitConnectFd(fd, sa, ringline.UserData(ud))
}

func (u *engine) Shutdown(fd int, ud uint64) error {
	return u.ring.SubmitShutdownFd(fd, unix.SHUT_WR, ringline.UserData(ud))
}

func (u *engine) CloseFd(fd int, ud uint64) error {
	return u.ring.SubmitCloseFd(fd, ringline.UserData(ud))
}

func (u *engine) Timeout(deadline *unix.Timespec, ud uint64) error {
	return u.ring.SubmitTimeoutAbs(deadline, ringline.UserData(ud))
}

func (u *engine) Cancel(target, ud uint64) error {
	return u.ring.SubmitCancel(ringline.UserData(target), ringline.UserData(ud))
}

func (u *engine) WakeRead(efd int, buf []byte, ud uint64) error {
	return u.ring.SubmitEventfdReadUD(efd, buf, ringline.UserData(ud))
}

// Inject queues a NOP that completes with res (IORING_NOP_INJECT_RESULT,
// Linux 6.6). An older kernel would complete it with 0 instead, which the
// worker would take for a real result, so Inject refuses there.
func (u *engine) Inject(ud uint64, res int32) error {
	if err := injectSupported(); err != nil {
		return err
	}
	return u.ring.SubmitNopInject(ringline.UserData(ud), res)
}

// injectAnswer is the kernel's answer to whether it honours
// IORING_NOP_INJECT_RESULT, once known: nil, or an error matching
// errors.ErrUnsupported. A failure to ask (no ring could be set up) is not
// an answer and is not kept.
var injectAnswer struct {
	sync.Mutex
	known bool
	err   error
}

// injectSupported reports whether the kernel honours IORING_NOP_INJECT_RESULT,
// asking a ring of its own the first time.
func injectSupported() error {
	injectAnswer.Lock()
	defer injectAnswer.Unlock()
	if injectAnswer.known {
		return injectAnswer.err
	}
	err := askInject()
	if err == nil || errors.Is(err, errors.ErrUnsupported) {
		injectAnswer.known, injectAnswer.err = true, err
	}
	return err
}

// askInject submits a NOP asking for an injected result on a ring of its
// own and checks the completion carries it.
func askInject() error {
	const want = -int32(unix.EIO)
	return onOwnRing(ringline.RingConfig{Entries: 2}, func(ring *ringline.Ring) error {
		err := ring.SubmitNopInject(1, want)
		var cqes []ringline.Completion
		if err == nil {
			cqes, err = ring.SubmitAndWait(1)
		}
		if err == nil && (len(cqes) != 1 || cqes[0].Res != want) {
			err = fmt.Errorf("%w: this kernel ignores IORING_NOP_INJECT_RESULT (Linux 6.6)", errors.ErrUnsupported)
		}
		return err
	})
}

// onOwnRing sets up a ring with cfg on a locked thread of its own (rings
// are single-issuer), runs fn on it and closes it.
func onOwnRing(cfg ringline.RingConfig, fn func(*ringline.Ring) error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		ring, err := ringline.NewRing(cfg)
		if err == nil {
			err = errors.Join(fn(ring), ring.Close())
		}
		errc <- err
	}()
	return <-errc
}

// Wait publishes the buffers released (or newly provided) since the last
// call, then submits, waits and reaps in one crossing. Whether to provide
// more is judged before the submit and again after the reap, when the
// buffers just filled are all with the worker; those added then are
// published by the next Wait.
func (u *engine) Wait(min int, timeout time.Duration) ([]backend.Completion, error) {
	u.provideMore()
	u.bufs.Advance()
	if u.dgrams != nil {
		u.dgrams.Advance()
	}
	var cqes []ringline.Completion
	var err error
	if timeout < 0 {
		cqes, err = u.ring.SubmitAndWait(min)
	} else {
		cqes, err = u.ring.SubmitAndWaitTimeout(min, timeout)
	}
	for i := range cqes {
		if cqes[i].Flags&backend.FlagBuffer != 0 {
			u.out++
		}
	}
	u.provideMore() // now, while the buffers just reaped are all out: the worker releases most before the next Wait
	return unsafe.Slice((*backend.Completion)(unsafe.Pointer(unsafe.SliceData(cqes))), len(cqes)), err
}

func (u *engine) SQFull() uint64 { return u.ring.Stats().SQFull }

// Close cancels what is in flight, unregisters and unmaps the receive
// buffers and frees the ring (Ring.Close does all three).
func (u *engine) Close() error { return u.ring.Close() }

// Check reports whether a worker's ring can be set up here: a ring with
// cfg's size and flags and a provided buffer ring, made and closed on a
// thread of its own (rings are single-issuer). It fails with the setup
// error's hint: the io_uring_disabled sysctl, a seccomp profile, memlock.
func Check(cfg backend.Config) error {
	return onOwnRing(ringline.RingConfig{Entries: uint32(cfg.Entries), SQPoll: cfg.SQPoll}, func(ring *ringline.Ring) error {
		_, err := ring.RegisterBufRing(recvGroup, 2, 64)
		return err
	})
}
