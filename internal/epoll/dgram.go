//go:build linux

package epoll

import (
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/ringline-go/ringline/internal/backend"
)

// Datagrams: a multishot recvmsg becomes an EPOLLIN interest whose
// readiness is turned into one recvmmsg call of up to perEvent datagrams
// per wake-up, each written into a pool buffer laid out as the kernel's
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

// recvDgrams receives up to perEvent datagrams from fd with one recvmmsg
// into pool buffers, a completion each with FlagBuffer and FlagMore; an
// empty pool ends the receive with -ENOBUFS, an error with that error, as
// io_uring's multishot recvmsg does.
func (b *Backend) recvDgrams(fd int, in *interest) {
	nameRoom, controlRoom := int(in.recvMsg.Namelen), int(in.recvMsg.Controllen)
	head := backend.DgramHeader + nameRoom + controlRoom
	k := min(perEvent, len(b.dgrams.free))
	if k == 0 {
		in.recv = false
		b.disarm(fd, in.recvUD, -int32(unix.ENOBUFS))
		return
	}
	var mm [perEvent]unix.Mmsghdr
	var iov [perEvent]unix.Iovec
	for j := range k {
		buf := b.DgramBuffer(b.dgrams.free[len(b.dgrams.free)-1-j])
		iov[j] = unix.Iovec{Base: &buf[head]}
		iov[j].SetLen(len(buf) - head)
		mm[j].Hdr = unix.Msghdr{Iov: &iov[j], Iovlen: 1}
		if nameRoom > 0 {
			mm[j].Hdr.Name, mm[j].Hdr.Namelen = &buf[backend.DgramHeader], uint32(nameRoom)
		}
		if controlRoom > 0 {
			mm[j].Hdr.Control = &buf[backend.DgramHeader+nameRoom]
			mm[j].Hdr.SetControllen(controlRoom)
		}
	}
	r, _, e := unix.Syscall6(unix.SYS_RECVMMSG, uintptr(fd), uintptr(unsafe.Pointer(&mm[0])), uintptr(k), unix.MSG_DONTWAIT|unix.MSG_TRUNC, 0, 0)
	switch {
	case e == unix.EAGAIN || e == unix.EINTR:
		return
	case e != 0:
		in.recv = false
		b.disarm(fd, in.recvUD, -int32(e))
		return
	}
	for j := range int(r) {
		id := b.dgrams.free[len(b.dgrams.free)-1]
		b.dgrams.free = b.dgrams.free[:len(b.dgrams.free)-1]
		buf := b.DgramBuffer(id)
		h := &mm[j].Hdr
		backend.PutDgramHeader(buf, int(h.Namelen), int(h.Controllen), int(mm[j].Len), uint32(h.Flags))
		used := head + min(int(mm[j].Len), len(buf)-head)
		b.complete(in.recvUD, int32(used), backend.FlagBuffer|backend.FlagMore|uint32(id)<<backend.BufferShift)
	}
}

// dgramSend is a datagram send waiting for the next Wait's sendmmsg.
type dgramSend struct {
	fd  int
	msg *unix.Msghdr
	ud  uint64
}

// SendDgram queues a datagram for the next Wait, which sends each
// socket's run of queued datagrams with sendmmsg.
func (b *Backend) SendDgram(fd int, msg *unix.Msghdr, ud uint64) error {
	b.dgramOut = append(b.dgramOut, dgramSend{fd, msg, ud})
	return nil
}

// flushDgrams sends the queued datagrams, one sendmmsg per run of up to
// 64 consecutive ones on one socket; each gets its completion. When the
// kernel stops short, the rest are tried again, so the first one left
// meets the error itself. A full socket buffer (EAGAIN, where io_uring
// would wait) or ENOBUFS is the socket's state, not that datagram's: the
// rest of the run would meet it too, one failing call each, so the whole
// run completes with it at once. Any other error (an ICMP report on a
// connected socket) is the first one's own: it completes with it and the
// run goes on after it.
func (b *Backend) flushDgrams() {
	var mm [64]unix.Mmsghdr
	q := b.dgramOut
	for len(q) > 0 {
		k := 1
		for k < len(q) && k < len(mm) && q[k].fd == q[0].fd {
			k++
		}
		for j := range k {
			mm[j] = unix.Mmsghdr{Hdr: *q[j].msg}
		}
		r, _, e := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(q[0].fd), uintptr(unsafe.Pointer(&mm[0])), uintptr(k), unix.MSG_DONTWAIT|unix.MSG_NOSIGNAL, 0, 0)
		switch {
		case e == unix.EAGAIN || e == unix.ENOBUFS:
			for j := range k {
				b.complete(q[j].ud, -int32(e), 0)
			}
			q = q[k:]
			continue
		case e != 0:
			b.complete(q[0].ud, -int32(e), 0)
			q = q[1:]
			continue
		}
		for j := range int(r) {
			b.complete(q[j].ud, int32(mm[j].Len), 0)
		}
		q = q[r:] // a short count: the next call meets the error, if any
	}
	clear(b.dgramOut)
	b.dgramOut = b.dgramOut[:0]
}
