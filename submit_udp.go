//go:build linux && cgo

package ringline

// #include "liburing_shim.h"
import "C"

import "golang.org/x/sys/unix"

// UDP submissions on fixed-file slots, with the caller's user_data (tags
// TagUDPRecvMsg, TagUDPSendMsg, TagUDPRecv, TagUDPSend).

// SubmitUDPRecvMsgMultishot arms a multishot recvmsg on the UDP socket in
// slot, taking buffers from group (Linux 6.0+). msg is a template: its
// msg_namelen and msg_controllen say how much room each buffer reserves for
// the source address and control data ahead of the payload (decode with
// ParseRecvMsgOut). msg: off-heap, valid until the final completion.
func (r *Ring) SubmitUDPRecvMsgMultishot(slot uint32, msg *unix.Msghdr, group uint16, ud UserData) error {
	op, err := r.pushFixedUD(kindRecvMsgMulti, slot, ud, sqeBufferSelect)
	if err == nil {
		op.addr, op.aux = ptrAddr(msg), C.uint32_t(group)
	}
	return err
}

// SubmitUDPSendMsg sends one datagram described by msg, with its destination
// in msg_name. msg, its iovecs, data and address: off-heap, valid until the
// completion.
func (r *Ring) SubmitUDPSendMsg(slot uint32, msg *unix.Msghdr, ud UserData) error {
	op, err := r.pushFixedUD(kindSendMsg, slot, ud, 0)
	if err == nil {
		op.addr = ptrAddr(msg)
	}
	return err
}

// SubmitUDPRecvMultishot arms a multishot recv on a connected UDP socket:
// each buffer holds one datagram's payload, no header (Linux 6.0+).
func (r *Ring) SubmitUDPRecvMultishot(slot uint32, group uint16, ud UserData) error {
	op, err := r.pushFixedUD(kindRecvMulti, slot, ud, sqeBufferSelect)
	if err == nil {
		op.aux = C.uint32_t(group)
	}
	return err
}

// SubmitUDPSend sends buf as one datagram on a connected UDP socket. buf:
// off-heap, valid until the completion.
func (r *Ring) SubmitUDPSend(slot uint32, buf []byte, ud UserData) error {
	op, err := r.pushFixedUD(kindSend, slot, ud, 0)
	if err == nil {
		op.addr, op.len = addrOf(buf), C.uint32_t(len(buf))
	}
	return err
}
