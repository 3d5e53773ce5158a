//go:build linux && cgo

package ringline

import (
	"errors"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/ringline-go/ringline/internal/backend"
)

// uringBackend is the io_uring engine of a worker: the binding's Ring, one
// provided-buffer ring (group 0) for every receive, and nothing else. Each
// backend method queues one descriptor; Wait is the loop's one crossing.
type uringBackend struct {
	ring *Ring
	bufs *BufRing
}

// The binding's Completion and the contract's are the same 32 bytes, so a
// reaped batch is handed to the worker without copying.
var _ [unsafe.Sizeof(Completion{}) - unsafe.Sizeof(backend.Completion{})]struct{}
var _ [unsafe.Sizeof(backend.Completion{}) - unsafe.Sizeof(Completion{})]struct{}

const recvGroup = 0

// newUringBackend sets up a ring and its receive buffers on the calling
// thread, which must be locked (runtime.LockOSThread) and stay the only one
// to use it.
func newUringBackend(cfg backend.Config) (backend.Backend, error) {
	ring, err := NewRing(RingConfig{Entries: uint32(cfg.Entries), SQPoll: cfg.SQPoll})
	if err != nil {
		return nil, err
	}
	bufs, err := ring.RegisterBufRing(recvGroup, cfg.BufEntries, cfg.BufSize)
	if err != nil {
		return nil, errors.Join(err, ring.Close())
	}
	return &uringBackend{ring: ring, bufs: bufs}, nil
}

func (u *uringBackend) Name() string { return "io_uring" }

func (u *uringBackend) Accept(fd int, ud uint64) error {
	return u.ring.SubmitMultishotAcceptFd(fd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, UserData(ud))
}

func (u *uringBackend) Recv(fd int, ud uint64) error {
	return u.ring.SubmitMultishotRecvFd(fd, recvGroup, UserData(ud))
}

func (u *uringBackend) Buffer(id uint16) []byte { return u.bufs.Buffer(id) }

func (u *uringBackend) Release(id uint16) { u.bufs.add(id) }

func (u *uringBackend) SendMsg(fd int, msg *unix.Msghdr, ud uint64) error {
	return u.ring.SubmitSendMsgFd(fd, msg, unix.MSG_NOSIGNAL, UserData(ud))
}

func (u *uringBackend) PollOut(fd int, ud uint64) error {
	return u.ring.SubmitPollAdd(fd, unix.POLLOUT, UserData(ud))
}

func (u *uringBackend) Connect(fd int, sa []byte, ud uint64) error {
	return u.ring.SubmitConnectFd(fd, sa, UserData(ud))
}

func (u *uringBackend) Shutdown(fd int, ud uint64) error {
	return u.ring.SubmitShutdownFd(fd, unix.SHUT_WR, UserData(ud))
}

func (u *uringBackend) CloseFd(fd int, ud uint64) error {
	return u.ring.SubmitCloseFd(fd, UserData(ud))
}

func (u *uringBackend) Timeout(deadline *unix.Timespec, ud uint64) error {
	return u.ring.SubmitTimeoutAbs(deadline, UserData(ud))
}

func (u *uringBackend) Cancel(target, ud uint64) error {
	return u.ring.SubmitCancel(UserData(target), UserData(ud))
}

func (u *uringBackend) WakeRead(efd int, buf []byte, ud uint64) error {
	return u.ring.SubmitEventfdReadUD(efd, buf, UserData(ud))
}

func (u *uringBackend) Inject(ud uint64, res int32) error {
	return u.ring.SubmitNopInject(UserData(ud), res)
}

// Wait publishes the buffers released since the last call, then submits,
// waits and reaps in one crossing.
func (u *uringBackend) Wait(min int, timeout time.Duration) ([]backend.Completion, error) {
	u.bufs.Advance()
	var cqes []Completion
	var err error
	if timeout < 0 {
		cqes, err = u.ring.SubmitAndWait(min)
	} else {
		cqes, err = u.ring.SubmitAndWaitTimeout(min, timeout)
	}
	return unsafe.Slice((*backend.Completion)(unsafe.Pointer(unsafe.SliceData(cqes))), len(cqes)), err
}

func (u *uringBackend) SQFull() uint64 { return u.ring.stats.SQFull }

// Close cancels what is in flight, unregisters and unmaps the receive
// buffers and frees the ring (Ring.Close does all three).
func (u *uringBackend) Close() error { return u.ring.Close() }
