//go:build linux

package backend

import (
	"encoding/binary"
	"errors"
)

// DgramHeader is sizeof(struct io_uring_recvmsg_out): namelen, controllen,
// payloadlen and flags, four 32-bit fields at the start of every datagram
// buffer a RecvMsg fills. The source address follows in the room the
// template's msg_namelen reserved, then the control data's room, then the
// payload.
const DgramHeader = 16

// DgramOut is one datagram in a buffer a RecvMsg filled.
type DgramOut struct {
	Name       []byte // the source address, a raw sockaddr
	Control    []byte // ancillary data (UDP_GRO's segment size ...)
	Payload    []byte // what fitted in the buffer
	PayloadLen int    // the datagram's full length; more than len(Payload) when truncated
	Flags      uint32 // msg_flags: MSG_TRUNC when the datagram did not fit
}

// ParseDgram reads buf, the bytes of a RecvMsg completion, filled with a
// template reserving nameRoom bytes for the address and controlRoom for
// control data.
func ParseDgram(buf []byte, nameRoom, controlRoom int) (DgramOut, error) {
	head := DgramHeader + nameRoom + controlRoom
	if len(buf) < head {
		return DgramOut{}, errors.New("backend: datagram buffer shorter than its header")
	}
	ne := binary.NativeEndian
	name := min(int(ne.Uint32(buf[0:])), nameRoom)
	control := min(int(ne.Uint32(buf[4:])), controlRoom)
	at := DgramHeader + nameRoom
	return DgramOut{
		Name:       buf[DgramHeader : DgramHeader+name],
		Control:    buf[at : at+control],
		Payload:    buf[head:],
		PayloadLen: int(ne.Uint32(buf[8:])),
		Flags:      ne.Uint32(buf[12:]),
	}, nil
}

// PutDgramHeader writes the header a kernel's recvmsg_out would hold: for
// engines that receive datagrams themselves.
func PutDgramHeader(buf []byte, nameLen, controlLen, payloadLen int, flags uint32) {
	ne := binary.NativeEndian
	ne.PutUint32(buf[0:], uint32(nameLen))
	ne.PutUint32(buf[4:], uint32(controlLen))
	ne.PutUint32(buf[8:], uint32(payloadLen))
	ne.PutUint32(buf[12:], flags)
}
