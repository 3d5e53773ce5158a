//go:build linux

package epoll

import (
	"golang.org/x/sys/unix"

	"github.com/ringline-go/ringline/internal/backend"
)

// Readiness turned into completions: what io_uring's multishot and poll
// requests do in the kernel, done here when epoll reports the descriptor.

// handle runs the armed operations of fd that events make progress on.
func (b *Backend) handle(fd int, events uint32) {
	if fd >= len(b.fds) {
		return
	}
	in := &b.fds[fd]
	readable := events&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0
	writable := events&(unix.EPOLLOUT|unix.EPOLLHUP|unix.EPOLLERR) != 0
	if readable && in.accept {
		b.accept(fd, in)
	}
	if readable && in.recv {
		if in.recvMsg != nil {
			b.recvDgrams(fd, in)
		} else {
			b.recv(fd, in)
		}
	}
	if readable && in.wake {
		b.wake(fd, in)
	}
	if writable && in.connect {
		in.connect = false
		res := int32(0)
		if soErr, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR); err != nil {
			res = errno(err)
		} else if soErr != 0 {
			res = -int32(soErr)
		}
		b.disarm(fd, in.connectUD, res)
	}
	if writable && in.pollOut {
		in.pollOut = false
		b.disarm(fd, in.pollOutUD, int32(events&(unix.EPOLLOUT|unix.EPOLLERR|unix.EPOLLHUP)))
	}
	b.update(fd)
}

// accept takes pending connections off listener fd, a completion each with
// FlagMore; an error other than EAGAIN ends the accept, as in io_uring.
func (b *Backend) accept(fd int, in *interest) {
	for range perEvent {
		nfd, _, err := unix.Accept4(fd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
		switch err {
		case nil:
			b.complete(in.acceptUD, int32(nfd), backend.FlagMore)
			continue
		case unix.EAGAIN, unix.EINTR, unix.ECONNABORTED:
		default:
			in.accept = false
			b.disarm(fd, in.acceptUD, errno(err))
		}
		return
	}
}

// recv reads fd into pool buffers, a completion each with FlagBuffer and
// FlagMore. End of stream (0, no FlagMore), an error, or an empty pool
// (-ENOBUFS, the data left in the socket) ends the receive, as in io_uring.
func (b *Backend) recv(fd int, in *interest) {
	for range perEvent {
		if len(b.free) == 0 {
			in.recv = false
			b.disarm(fd, in.recvUD, -int32(unix.ENOBUFS))
			return
		}
		id := b.free[len(b.free)-1]
		n, err := unix.Read(fd, b.Buffer(id))
		switch {
		case n > 0:
			b.free = b.free[:len(b.free)-1]
			b.complete(in.recvUD, int32(n), backend.FlagBuffer|backend.FlagMore|uint32(id)<<backend.BufferShift)
			if n < b.size {
				return // most likely drained; epoll says if not
			}
		case err == unix.EAGAIN || err == unix.EINTR:
			return
		case err != nil:
			in.recv = false
			b.disarm(fd, in.recvUD, errno(err))
			return
		default:
			in.recv = false
			b.disarm(fd, in.recvUD, 0)
			return
		}
	}
}

// wake reads the eventfd's counter into the caller's buffer: one completion.
func (b *Backend) wake(fd int, in *interest) {
	n, err := unix.Read(fd, in.wakeBuf[:8])
	if err == unix.EAGAIN {
		return
	}
	in.wake = false
	res := int32(n)
	if err != nil {
		res = errno(err)
	}
	b.disarm(fd, in.wakeUD, res)
}
