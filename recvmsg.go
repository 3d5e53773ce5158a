package ringline

import (
	"encoding/binary"
	"fmt"
)

// recvMsgOutSize is sizeof(struct io_uring_recvmsg_out): namelen, controllen,
// payloadlen and flags, four 32-bit fields.
const recvMsgOutSize = 16

// RecvMsgOut is one message delivered by a multishot recvmsg into a provided
// buffer. The slices alias that buffer and are valid until it is returned to
// its ring.
type RecvMsgOut struct {
	Name       []byte // source address (a raw sockaddr), cut to the template's name length
	Control    []byte // ancillary data, cut to the template's control length
	Payload    []byte // the data that fitted in the buffer
	PayloadLen uint32 // the message's full length; more than len(Payload) when truncated
	Flags      uint32 // msg_flags (MSG_TRUNC, MSG_CTRUNC ...)
}

// ParseRecvMsgOut decodes buf, the bytes a multishot recvmsg completion
// reported (the provided buffer cut to the completion's result). nameLen and
// controlLen are the msg_namelen and msg_controllen of the template msghdr
// the request was submitted with: the kernel reserves exactly that much room
// for each ahead of the payload.
func ParseRecvMsgOut(buf []byte, nameLen, controlLen uint32) (RecvMsgOut, error) {
	header := uint64(recvMsgOutSize) + uint64(nameLen) + uint64(controlLen)
	if uint64(len(buf)) < header {
		return RecvMsgOut{}, fmt.Errorf("ringline: recvmsg: %d bytes, header needs %d", len(buf), header)
	}
	ne := binary.NativeEndian
	gotName, gotControl := ne.Uint32(buf[0:]), ne.Uint32(buf[4:])
	nameAt := uint64(recvMsgOutSize)
	controlAt := nameAt + uint64(nameLen)
	nameEnd := nameAt + uint64(min(gotName, nameLen))
	controlEnd := controlAt + uint64(min(gotControl, controlLen))
	return RecvMsgOut{ // capacities end with each region, so an append cannot spill into the next
		Name:       buf[nameAt:nameEnd:nameEnd],
		Control:    buf[controlAt:controlEnd:controlEnd],
		Payload:    buf[header:],
		PayloadLen: ne.Uint32(buf[8:]),
		Flags:      ne.Uint32(buf[12:]),
	}, nil
}
