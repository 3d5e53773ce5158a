//go:build linux && cgo

package ringline

// #include "liburing_shim.h"
import "C"

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// Network submissions on fixed-file slots. conn is both the slot in the
// fixed-file table and the index of the user_data; each helper picks the tag.
// Memory rules are stated per helper: "off-heap" means from an Arena, a
// BufRing or other memory outside the Go heap, or Go memory pinned with
// runtime.Pinner, kept valid for as long as the helper says.

func addrOf(b []byte) C.uint64_t { return C.uint64_t(uintptr(unsafe.Pointer(unsafe.SliceData(b)))) }

func ptrAddr[T any](p *T) C.uint64_t { return C.uint64_t(uintptr(unsafe.Pointer(p))) }

// SubmitMultishotRecv arms a multishot recv on conn that takes buffers from
// provided-buffer group (Linux 6.0+). Each completion carries a buffer id and
// IORING_CQE_F_MORE while the request stays armed; -ENOBUFS ends it when the
// group is empty, with the data left in the socket. The group's buffers must
// stay registered until the final completion.
func (r *Ring) SubmitMultishotRecv(conn uint32, group uint16) error {
	op, err := r.pushFixed(kindRecvMulti, TagRecvMulti, conn, 0, sqeBufferSelect)
	if err == nil {
		op.aux = C.uint32_t(group)
	}
	return err
}

// SubmitMultishotRecvMsg arms a multishot recvmsg on TCP conn (Linux 6.0+),
// used with SO_TIMESTAMP(ING) to get timestamps as control messages. msg is a
// template (only msg_namelen and msg_controllen matter): off-heap, valid until
// the final completion. Decode each buffer with ParseRecvMsgOut.
func (r *Ring) SubmitMultishotRecvMsg(conn uint32, msg *unix.Msghdr, group uint16) error {
	op, err := r.pushFixed(kindRecvMsgMulti, TagRecvMsgMultiTs, conn, 0, sqeBufferSelect)
	if err == nil {
		op.addr, op.aux = ptrAddr(msg), C.uint32_t(group)
	}
	return err
}

// SubmitSendCopied sends buf, a send-pool slot, on conn; slot rides in the
// payload so the completion can release it. buf: off-heap, valid until the
// completion. A short send reports the count sent; resubmit the rest.
func (r *Ring) SubmitSendCopied(conn uint32, buf []byte, slot uint16) error {
	return r.send(TagSend, conn, buf, slot, 0)
}

// SubmitTLSSend sends TLS-internal bytes (handshake, alert) on conn, tagged
// TagTLSSend so the completion frees the pool slot without reporting a user
// send. buf: off-heap, valid until the completion.
func (r *Ring) SubmitTLSSend(conn uint32, buf []byte, slot uint16) error {
	return r.send(TagTLSSend, conn, buf, slot, 0)
}

// SubmitTLSSendLinked is SubmitTLSSend with IOSQE_IO_LINK, so the next
// submission (typically SubmitClose after a close_notify) runs only after
// this send completes.
// The send uses MSG_WAITALL, so the kernel retries a short send until all of
// buf is out, and a failure cancels the linked close (-ECANCELED), leaving the
// caller to close. The pair is a chain of two (see Link): submitting anything
// else between the two calls is refused, so the link can never dangle.
func (r *Ring) SubmitTLSSendLinked(conn uint32, buf []byte, slot uint16) error {
	if err := r.linkNext(); err != nil {
		return err
	}
	return r.send(TagTLSSend, conn, buf, slot, unix.MSG_WAITALL)
}

func (r *Ring) send(tag Tag, conn uint32, buf []byte, slot uint16, msgFlags uint32) error {
	op, err := r.pushFixed(kindSend, tag, conn, uint32(slot), 0)
	if err == nil {
		op.addr, op.len, op.flags = addrOf(buf), C.uint32_t(len(buf)), C.uint32_t(msgFlags)
	}
	return err
}

// SubmitSendMsgZC sends msg on conn without copying (IORING_OP_SENDMSG_ZC,
// Linux 6.1+); slab rides in the payload. Two completions arrive: the result
// (with IORING_CQE_F_MORE) and then a notification (IORING_CQE_F_NOTIF) after
// which the data may be reused. msg, its iovecs and their data: off-heap,
// valid until the notification.
func (r *Ring) SubmitSendMsgZC(conn uint32, msg *unix.Msghdr, slab uint16) error {
	return r.sendMsg(kindSendMsgZC, TagSendMsgZC, conn, msg, uint32(slab))
}

// SubmitSendMsgCoalesced sends several queued sends gathered in msg's iovecs
// with one copying sendmsg; slab rides in the payload. msg, its iovecs and
// their data: off-heap, valid until the completion.
func (r *Ring) SubmitSendMsgCoalesced(conn uint32, msg *unix.Msghdr, slab uint16) error {
	return r.sendMsg(kindSendMsg, TagSendMsgCoalesced, conn, msg, uint32(slab))
}

// SubmitSendRecvBufsCoalesced forwards received data: msg's iovecs point into
// held provided buffers, returned to their ring after the completion. Same
// memory rules as SubmitSendMsgCoalesced.
func (r *Ring) SubmitSendRecvBufsCoalesced(conn uint32, msg *unix.Msghdr, slab uint16) error {
	return r.sendMsg(kindSendMsg, TagSendRecvBufsCoalesced, conn, msg, uint32(slab))
}

func (r *Ring) sendMsg(kind uint8, tag Tag, slot uint32, msg *unix.Msghdr, payload uint32) error {
	op, err := r.pushFixed(kind, tag, slot, payload, 0)
	if err == nil {
		op.addr = ptrAddr(msg)
	}
	return err
}

// SubmitSendPollOut arms a one-shot POLLOUT on conn after a copied send saw
// -EAGAIN; slot rides in the payload so the send can be resumed.
func (r *Ring) SubmitSendPollOut(conn uint32, slot uint16) error {
	return r.pollOut(TagSendPollOut, conn, uint32(slot))
}

// SubmitSendMsgCoalescedPollOut arms POLLOUT after a coalesced sendmsg saw -EAGAIN.
func (r *Ring) SubmitSendMsgCoalescedPollOut(conn uint32, slab uint16) error {
	return r.pollOut(TagSendMsgCoalescedPollOut, conn, uint32(slab))
}

// SubmitSendRecvBufsCoalescedPollOut arms POLLOUT after a recv-forward sendmsg saw -EAGAIN.
func (r *Ring) SubmitSendRecvBufsCoalescedPollOut(conn uint32, slab uint16) error {
	return r.pollOut(TagSendRecvBufsCoalescedPollOut, conn, uint32(slab))
}

func (r *Ring) pollOut(tag Tag, conn, payload uint32) error {
	op, err := r.pushFixed(kindPollAdd, tag, conn, payload, 0)
	if err == nil {
		op.len = unix.POLLOUT
	}
	return err
}

// SubmitClose closes the direct descriptor in slot conn (Linux 5.15+).
func (r *Ring) SubmitClose(conn uint32) error {
	ud, err := NewUserData(TagClose, conn, 0)
	if err != nil {
		return r.abortChain(err)
	}
	op, err := r.pushSlot(kindCloseDirect, conn, ud, 0)
	if err == nil {
		op.aux = C.uint32_t(conn)
	}
	return err
}

// SubmitConnect connects the socket in slot conn to addr, a raw sockaddr
// (Arena.Sockaddr): off-heap, valid until the completion.
func (r *Ring) SubmitConnect(conn uint32, addr []byte) error {
	op, err := r.pushFixed(kindConnect, TagConnect, conn, 0, 0)
	if err == nil {
		op.addr, op.len = addrOf(addr), C.uint32_t(len(addr))
	}
	return err
}

// SubmitShutdown shuts down the sending side of conn (shutdown(SHUT_WR)):
// the peer reads EOF once queued data has gone.
func (r *Ring) SubmitShutdown(conn uint32) error {
	op, err := r.pushFixed(kindShutdown, TagShutdown, conn, 0, 0)
	if err == nil {
		op.len = unix.SHUT_WR
	}
	return err
}
