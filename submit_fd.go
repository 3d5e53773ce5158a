//go:build linux && cgo

package ringline

// #include "liburing_shim.h"
import "C"

import (
	"golang.org/x/sys/unix"
)

// Submissions on plain descriptors, with the caller's user_data: for callers
// that keep a real descriptor per socket (so getpeername, setsockopt and
// other system calls see the same socket) rather than a fixed-file slot.

// SubmitMultishotAcceptFd arms a multishot accept on listening socket fd
// (Linux 5.19+). Each completion's result is a new descriptor opened with
// flags (unix.SOCK_NONBLOCK, unix.SOCK_CLOEXEC); IORING_CQE_F_MORE says the
// accept stays armed. A completion without it ends the request: re-arm.
func (r *Ring) SubmitMultishotAcceptFd(fd int, flags int, ud UserData) error {
	op, err := r.push(kindAcceptMulti, ud, 0)
	if err == nil {
		op.fd, op.flags = C.int32_t(fd), C.uint32_t(flags)
	}
	return err
}

// SubmitMultishotRecvFd arms a multishot recv on socket fd that takes its
// buffers from provided-buffer group (Linux 6.0+). Completions are as for
// SubmitMultishotRecv: a buffer id per completion, IORING_CQE_F_MORE while
// armed, a result of 0 at end of stream, -ENOBUFS when the group ran dry.
func (r *Ring) SubmitMultishotRecvFd(fd int, group uint16, ud UserData) error {
	op, err := r.push(kindRecvMulti, ud, sqeBufferSelect)
	if err == nil {
		op.fd, op.aux = C.int32_t(fd), C.uint32_t(group)
	}
	return err
}

// SubmitMultishotRecvMsgFd arms a multishot recvmsg on datagram socket fd
// that takes its buffers from provided-buffer group (Linux 6.0+). msg is a
// template: its msg_namelen and msg_controllen say how much room each
// buffer reserves for the source address and control data ahead of the
// payload (decode with ParseRecvMsgOut). msgFlags are recvmsg's: with
// unix.MSG_TRUNC a truncated datagram's PayloadLen is its full length.
// msg: off-heap, valid until the final completion.
func (r *Ring) SubmitMultishotRecvMsgFd(fd int, msg *unix.Msghdr, msgFlags uint32, group uint16, ud UserData) error {
	op, err := r.push(kindRecvMsgMulti, ud, sqeBufferSelect)
	if err == nil {
		op.fd, op.addr, op.aux, op.flags = C.int32_t(fd), ptrAddr(msg), C.uint32_t(group), C.uint32_t(msgFlags)
	}
	return err
}

// SubmitSendMsgFd sends the iovecs of msg on socket fd with msgFlags
// (unix.MSG_NOSIGNAL ...) in one sendmsg (Linux 5.3+). The result is the
// count sent, which may be short. msg, its iovecs and the bytes they name:
// off-heap, valid until the completion.
func (r *Ring) SubmitSendMsgFd(fd int, msg *unix.Msghdr, msgFlags uint32, ud UserData) error {
	op, err := r.push(kindSendMsg, ud, 0)
	if err == nil {
		op.fd, op.addr, op.flags = C.int32_t(fd), ptrAddr(msg), C.uint32_t(msgFlags)
	}
	return err
}

// SubmitConnectFd connects socket fd to addr, a raw sockaddr (Linux 5.5+).
// addr: off-heap (Arena.Sockaddr), valid until the completion. The result is
// 0 or -errno (-ECONNREFUSED, -ETIMEDOUT, -ECANCELED when cancelled).
func (r *Ring) SubmitConnectFd(fd int, addr []byte, ud UserData) error {
	op, err := r.push(kindConnect, ud, 0)
	if err == nil {
		op.fd, op.addr, op.len = C.int32_t(fd), addrOf(addr), C.uint32_t(len(addr))
	}
	return err
}

// SubmitShutdownFd shuts down direction how (unix.SHUT_WR ...) of socket fd
// (Linux 5.11+).
func (r *Ring) SubmitShutdownFd(fd int, how int, ud UserData) error {
	op, err := r.push(kindShutdown, ud, 0)
	if err == nil {
		op.fd, op.len = C.int32_t(fd), C.uint32_t(how)
	}
	return err
}

// SubmitCloseFd closes descriptor fd (Linux 5.6+). Requests still in flight
// on fd keep the file open until they complete: cancel them first.
func (r *Ring) SubmitCloseFd(fd int, ud UserData) error {
	op, err := r.push(kindClose, ud, 0)
	if err == nil {
		op.fd = C.int32_t(fd)
	}
	return err
}

// SubmitCancel cancels the request submitted with target (Linux 5.5+); its
// own completion carries ud and gives 0, -ENOENT (nothing matched) or
// -EALREADY (already running). The target completes with -ECANCELED.
func (r *Ring) SubmitCancel(target, ud UserData) error {
	op, err := r.push(kindCancel, ud, 0)
	if err == nil {
		op.addr, op.flags = C.uint64_t(target), cancelUserData
	}
	return err
}

// SubmitEventfdReadUD reads the 8-byte counter of eventfd into buf, with the
// caller's user_data. buf: at least 8 bytes, off-heap, valid until the
// completion.
func (r *Ring) SubmitEventfdReadUD(eventfd int, buf []byte, ud UserData) error {
	if len(buf) < 8 {
		return r.abortChain(eventfdBufError(len(buf)))
	}
	op, err := r.push(kindRead, ud, 0)
	if err == nil {
		op.fd, op.addr, op.len = C.int32_t(eventfd), addrOf(buf), 8
	}
	return err
}
