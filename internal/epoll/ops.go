//go:build linux

package epoll

import (
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/ringline-go/ringline/internal/backend"
)

// Operations that run at once: their completion waits in the ready list
// for the next Wait, as an io_uring completion would.

// SendMsg sends the iovecs of msg on fd with one non-blocking sendmsg; a
// full socket gives -EAGAIN, for the worker to wait with PollOut.
func (b *Backend) SendMsg(fd int, msg *unix.Msghdr, ud uint64) error {
	n, _, e := unix.Syscall(unix.SYS_SENDMSG, uintptr(fd), uintptr(unsafe.Pointer(msg)), unix.MSG_NOSIGNAL|unix.MSG_DONTWAIT)
	if e != 0 {
		b.complete(ud, -int32(e), 0)
	} else {
		b.complete(ud, int32(n), 0)
	}
	return nil
}

// Connect starts a non-blocking connect; one still in progress completes
// when fd becomes writable, with the socket's SO_ERROR.
func (b *Backend) Connect(fd int, sa []byte, ud uint64) error {
	_, _, e := unix.Syscall(unix.SYS_CONNECT, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(sa))), uintptr(len(sa)))
	switch e {
	case 0:
		b.complete(ud, 0, 0)
	case unix.EINPROGRESS, unix.EINTR:
		return b.arm(fd, ud, func(in *interest) { in.connect, in.connectUD = true, ud })
	default:
		b.complete(ud, -int32(e), 0)
	}
	return nil
}

// Shutdown shuts the write side of fd down.
func (b *Backend) Shutdown(fd int, ud uint64) error {
	res := int32(0)
	if err := unix.Shutdown(fd, unix.SHUT_WR); err != nil {
		res = errno(err)
	}
	b.complete(ud, res, 0)
	return nil
}

// CloseFd forgets fd's interests, takes it out of the epoll set and closes
// it, after sending the datagrams queued before it (so none can go out on
// a later socket that reuses the number).
func (b *Backend) CloseFd(fd int, ud uint64) error {
	if len(b.dgramOut) > 0 {
		b.flushDgrams()
	}
	if fd < len(b.fds) {
		in := &b.fds[fd]
		for _, armed := range []struct {
			on bool
			ud uint64
		}{{in.accept, in.acceptUD}, {in.recv, in.recvUD}, {in.pollOut, in.pollOutUD}, {in.connect, in.connectUD}, {in.wake, in.wakeUD}} {
			if armed.on {
				delete(b.byUD, armed.ud)
			}
		}
		if in.mask != 0 {
			_ = unix.EpollCtl(b.epfd, unix.EPOLL_CTL_DEL, fd, nil)
		}
		*in = interest{}
	}
	res := int32(0)
	if err := unix.Close(fd); err != nil {
		res = errno(err)
	}
	b.complete(ud, res, 0)
	return nil
}

// Cancel ends the armed operation or timer submitted with target: it
// completes with -ECANCELED, and the cancel itself with 0, or -ENOENT when
// nothing matched.
func (b *Backend) Cancel(target, ud uint64) error {
	if b.timers.remove(target) {
		b.complete(target, -int32(unix.ECANCELED), 0)
		b.complete(ud, 0, 0)
		return nil
	}
	fd, ok := b.byUD[target]
	if !ok {
		b.complete(ud, -int32(unix.ENOENT), 0)
		return nil
	}
	in := &b.fds[fd]
	switch {
	case in.accept && target == in.acceptUD:
		in.accept = false
	case in.recv && target == in.recvUD:
		in.recv = false
	case in.pollOut && target == in.pollOutUD:
		in.pollOut = false
	case in.connect && target == in.connectUD:
		in.connect = false
	case in.wake && target == in.wakeUD:
		in.wake = false
	}
	b.disarm(fd, target, -int32(unix.ECANCELED))
	b.complete(ud, 0, 0)
	return b.update(fd)
}

// disarm completes the operation target on fd with res, its last
// completion, and forgets it.
func (b *Backend) disarm(fd int, target uint64, res int32) {
	delete(b.byUD, target)
	b.complete(target, res, 0)
}

var _ backend.Backend = (*Backend)(nil)
