//go:build linux

package epoll

import (
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/ringline-go/ringline/internal/backend"
)

// Datagrams: a multishot recvmsg becomes an EPOLLIN interest whose
// readiness is turned into recvmsg calls, up to perEvent per wake-up, each
// writing its datagram into a pool buffer laid out as the kernel's
// io_uring_recvmsg_out would be, so the worker parses both engines' alike.

// dgramPool is the datagram receive pool: a stack of free ids, as the
// receive pool, made at the first RecvMsg.
type dgramPool struct {
	bufs []byte
	size int
	free []uint16
}

// RecvMsg arms a multishot recvmsg on datagram socket fd.
func (b *Backend) RecvMsg(fd int, msg *unix.Msghdr, ud uint64) error {
	if b.dgrams.bufs == nil {
		n, size := max(b.dgramCfg[0], 1), max(b.dgramCfg[1], backend.DgramHeader+int(msg.Namelen)+int(msg.Controllen)+1)
		b.dgrams = dgramPool{bufs: make([]byte, n*size), size: size, free: make([]uint16, n)}
		for i := range b.dgrams.free {
			b.dgrams.free[i] = uint16(n - 1 - i)
		}
	}
	return b.arm(fd, ud, func(in *interest) { in.recv, in.recvUD, in.recvMsg = true, ud, msg })
}

// DgramBuffer returns datagram pool buffer id.
func (b *Backend) DgramBuffer(id uint16) []byte {
	off := int(id) * b.dgrams.size
	return b.dgrams.bufs[off : off+b.dgrams.size : off+b.dgrams.size]
}

// DgramRelease gives datagram buffer id back to the pool.
func (b *Backend) DgramRelease(id uint16) { b.dgrams.free = append(b.dgrams.free, id) }

// recvDgrams receives datagrams from fd into pool buffers, a completion
// each with FlagBuffer and FlagMore; an empty pool ends the receive with
// -ENOBUFS, an error with that error, as io_uring's multishot recvmsg does.
func (b *Backend) recvDgrams(fd int, in *interest) {
	nameRoom, controlRoom := int(in.recvMsg.Namelen), int(in.recvMsg.Controllen)
	head := backend.DgramHeader + nameRoom + controlRoom
	for range perEvent {
		if len(b.dgrams.free) == 0 {
			in.recv = false
			b.disarm(fd, in.recvUD, -int32(unix.ENOBUFS))
			return
		}
		id := b.dgrams.free[len(b.dgrams.free)-1]
		buf := b.DgramBuffer(id)
		iov := unix.Iovec{Base: &buf[head]}
		iov.SetLen(len(buf) - head)
		msg := unix.Msghdr{Iov: &iov, Iovlen: 1}
		if nameRoom > 0 {
			msg.Name, msg.Namelen = &buf[backend.DgramHeader], uint32(nameRoom)
		}
		if controlRoom > 0 {
			msg.Control = &buf[backend.DgramHeader+nameRoom]
			msg.SetControllen(controlRoom)
		}
		n, _, e := unix.Syscall(unix.SYS_RECVMSG, uintptr(fd), uintptr(unsafe.Pointer(&msg)), unix.MSG_DONTWAIT|unix.MSG_TRUNC)
		switch {
		case e == 0:
			b.dgrams.free = b.dgrams.free[:len(b.dgrams.free)-1]
			backend.PutDgramHeader(buf, int(msg.Namelen), int(msg.Controllen), int(n), uint32(msg.Flags))
			used := head + min(int(n), len(buf)-head)
			b.complete(in.recvUD, int32(used), backend.FlagBuffer|backend.FlagMore|uint32(id)<<backend.BufferShift)
		case e == unix.EAGAIN || e == unix.EINTR:
			return
		default:
			in.recv = false
			b.disarm(fd, in.recvUD, -int32(e))
			return
		}
	}
}
