//go:build linux

// Package epoll is the pure-Go backend: the contract of internal/backend
// carried out with epoll and plain system calls (golang.org/x/sys/unix).
//
// What io_uring does in the kernel, this backend does when the descriptor is
// ready: a multishot accept or recv becomes a level-triggered EPOLLIN
// interest whose readiness is turned into accept4 or read calls, each one a
// completion with backend.FlagMore while the operation stays armed; a
// sendmsg, shutdown or close runs at once and its completion is delivered by
// the next Wait; a POLLOUT wait and a connect in progress are EPOLLOUT
// interests; timeouts live in a heap that bounds epoll_wait's timeout. The
// completions have the same shape and meaning as io_uring's, so the worker
// cannot tell the backends apart.
package epoll

import (
	"errors"
	"fmt"
	"math"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ringline-go/ringline/internal/backend"
)

// The most accepts or reads done for one descriptor per readiness event,
// so one busy connection cannot starve the others; level-triggered epoll
// reports what is left at the next wait.
const perEvent = 8

// interest is what is armed on one descriptor, with the user_data of each.
type interest struct {
	accept, recv, pollOut, connect, wake bool
	acceptUD, recvUD, pollOutUD          uint64
	connectUD, wakeUD                    uint64
	wakeBuf                              []byte
	recvMsg                              *unix.Msghdr // the recvmsg template when recv is a datagram receive
	mask                                 uint32       // the events registered with epoll; 0: not registered
}

// Backend is one worker's epoll engine. Owner: the worker's thread.
type Backend struct {
	epfd   int
	events []unix.EpollEvent
	fds    []interest           // indexed by descriptor
	byUD   map[uint64]int       // user_data of an armed accept/recv/pollout/connect/wake -> fd
	timers timerHeap            // pending timeouts
	ready  []backend.Completion // completions waiting for the next Wait
	out    []backend.Completion // what the last Wait returned
	bufs   []byte               // the receive buffer pool
	size   int
	free   []uint16 // free buffer ids, used as a stack

	dgrams   dgramPool   // the datagram receive pool; made at the first RecvMsg
	dgramOut []dgramSend // datagrams queued for the next Wait's sendmmsg
	dgramCfg [2]int      // its buffers and their size

	files       *filePool // nil until the first file operation
	fileOps     int       // the pool's queue
	fileThreads int       // the pool's threads
}

// New sets up an epoll instance and a pool of cfg.BufEntries receive
// buffers of cfg.BufSize bytes.
func New(cfg backend.Config) (backend.Backend, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("epoll_create1", err)
	}
	if cfg.BufEntries < 1 || cfg.BufEntries > 1<<16 || cfg.BufSize < 1 {
		unix.Close(epfd)
		return nil, fmt.Errorf("epoll backend: %d buffers of %d bytes", cfg.BufEntries, cfg.BufSize)
	}
	b := &Backend{
		epfd:   epfd,
		events: make([]unix.EpollEvent, max(cfg.Entries, 64)),
		byUD:   make(map[uint64]int),
		bufs:   make([]byte, cfg.BufEntries*cfg.BufSize),
		size:   cfg.BufSize,
		free:   make([]uint16, cfg.BufEntries),

		dgramCfg:    [2]int{cfg.DgramEntries, cfg.DgramSize},
		fileOps:     max(cfg.FileOps, 1),
		fileThreads: max(cfg.FileThreads, 1),
	}
	for i := range b.free {
		b.free[i] = uint16(cfg.BufEntries - 1 - i)
	}
	b.timers.index = make(map[uint64]int)
	return b, nil
}

// Name is "epoll".
func (b *Backend) Name() string { return "epoll" }

// at returns the interest record of fd, growing the table as needed.
func (b *Backend) at(fd int) *interest {
	if fd >= len(b.fds) {
		b.fds = append(b.fds, make([]interest, fd+1-len(b.fds)+len(b.fds)/2)...)
	}
	return &b.fds[fd]
}

// complete queues a completion for the next Wait.
func (b *Backend) complete(ud uint64, res int32, flags uint32) {
	b.ready = append(b.ready, backend.Completion{UserData: ud, Res: res, Flags: flags})
}

// errno turns a system call error into a negative result.
func errno(err error) int32 {
	if e, ok := err.(unix.Errno); ok {
		return -int32(e)
	}
	return -int32(unix.EIO)
}

// update registers, changes or removes fd's epoll interest to match what
// is armed. With nothing armed the descriptor leaves the epoll set, so a
// hung-up socket nobody waits on cannot wake the loop again and again.
func (b *Backend) update(fd int) error {
	in := &b.fds[fd]
	var want uint32
	if in.accept || in.recv || in.wake {
		want |= unix.EPOLLIN | unix.EPOLLRDHUP
	}
	if in.pollOut || in.connect {
		want |= unix.EPOLLOUT
	}
	if want == in.mask {
		return nil
	}
	op := unix.EPOLL_CTL_MOD
	switch {
	case in.mask == 0:
		op = unix.EPOLL_CTL_ADD
	case want == 0:
		op = unix.EPOLL_CTL_DEL
	}
	ev := unix.EpollEvent{Events: want, Fd: int32(fd)}
	if err := unix.EpollCtl(b.epfd, op, fd, &ev); err != nil {
		return os.NewSyscallError("epoll_ctl", err)
	}
	in.mask = want
	return nil
}

// arm records an interest of fd under ud and registers it.
func (b *Backend) arm(fd int, ud uint64, set func(*interest)) error {
	if fd < 0 {
		return os.NewSyscallError("epoll_ctl", unix.EBADF)
	}
	in := b.at(fd)
	saved := *in
	set(in)
	b.byUD[ud] = fd
	if err := b.update(fd); err != nil {
		*in = saved // not armed: nothing of it may linger for a reused descriptor
		delete(b.byUD, ud)
		return err
	}
	return nil
}

// Accept arms a multishot accept on listener fd.
func (b *Backend) Accept(fd int, ud uint64) error {
	return b.arm(fd, ud, func(in *interest) { in.accept, in.acceptUD = true, ud })
}

// Recv arms a multishot receive on fd into the buffer pool.
func (b *Backend) Recv(fd int, ud uint64) error {
	return b.arm(fd, ud, func(in *interest) { in.recv, in.recvUD, in.recvMsg = true, ud, nil })
}

// PollOut waits once for fd to become writable.
func (b *Backend) PollOut(fd int, ud uint64) error {
	return b.arm(fd, ud, func(in *interest) { in.pollOut, in.pollOutUD = true, ud })
}

// WakeRead reads eventfd efd into buf once it is signalled.
func (b *Backend) WakeRead(efd int, buf []byte, ud uint64) error {
	return b.arm(efd, ud, func(in *interest) { in.wake, in.wakeUD, in.wakeBuf = true, ud, buf })
}

// Buffer returns pool buffer id.
func (b *Backend) Buffer(id uint16) []byte {
	off := int(id) * b.size
	return b.bufs[off : off+b.size : off+b.size]
}

// Release gives buffer id back to the pool.
func (b *Backend) Release(id uint16) { b.free = append(b.free, id) }

// SQFull is always 0: nothing here queues in a bounded ring.
func (b *Backend) SQFull() uint64 { return 0 }

// Inject queues a completion carrying ud and res.
func (b *Backend) Inject(ud uint64, res int32) error {
	b.complete(ud, res, 0)
	return nil
}

// Timeout completes with -ETIME at the absolute CLOCK_MONOTONIC deadline.
func (b *Backend) Timeout(deadline *unix.Timespec, ud uint64) error {
	b.timers.add(deadline.Nano(), ud)
	return nil
}

// Close releases the epoll instance; the descriptors belong to the worker.
func (b *Backend) Close() error {
	if b.epfd < 0 {
		return nil
	}
	err := errors.Join(b.closeFiles(), unix.Close(b.epfd))
	b.epfd = -1
	return err
}

// Wait delivers the completions queued since the last call and those the
// descriptors' readiness and the timers produce, waiting up to timeout
// (negative: no limit) for at least min of them. The slice is valid until
// the next Wait.
func (b *Backend) Wait(min int, timeout time.Duration) ([]backend.Completion, error) {
	if len(b.dgramOut) > 0 {
		b.flushDgrams()
	}
	var limit int64 = -1
	if timeout >= 0 {
		limit = monoNow() + timeout.Nanoseconds()
	}
	var err error
	for {
		n, werr := unix.EpollWait(b.epfd, b.events, b.waitMillis(len(b.ready) >= min, limit))
		if werr != nil && werr != unix.EINTR {
			err = os.NewSyscallError("epoll_wait", werr)
			break
		}
		for i := 0; i < n; i++ {
			if b.files != nil && int(b.events[i].Fd) == b.files.efd {
				b.collect()
				continue
			}
			b.handle(int(b.events[i].Fd), b.events[i].Events)
		}
		b.expire()
		if len(b.ready) >= min || limit >= 0 && monoNow() >= limit {
			break
		}
	}
	b.out, b.ready = b.ready, b.out[:0]
	return b.out, err
}

// waitMillis is epoll_wait's timeout: none when completions are already
// waiting, else until the wait's limit or the next timer, rounded up to
// the millisecond.
func (b *Backend) waitMillis(enough bool, limit int64) int {
	if enough {
		return 0
	}
	until := limit
	if d, ok := b.timers.next(); ok && (until < 0 || d < until) {
		until = d
	}
	if until < 0 {
		return -1
	}
	left := until - monoNow()
	if left <= 0 {
		return 0
	}
	// epoll_wait takes a C int: a longer wait is cut, and Wait waits again.
	return int(min((left+int64(time.Millisecond)-1)/int64(time.Millisecond), math.MaxInt32))
}

// monoNow reads CLOCK_MONOTONIC, the clock of the deadlines.
func monoNow() int64 {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return ts.Nano()
}
