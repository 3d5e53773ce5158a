package ringline

import "fmt"

// UserData is the 64-bit value carried by every submission and echoed in its
// completion. ringline packs it as
//
//	bits 63..56  tag      (8 bits)  which operation this is
//	bits 55..32  index    (24 bits) connection, file slot or timer slot
//	bits 31..0   payload  (32 bits) pool slot, slab index or generation
//
// It is a plain integer: no Go pointer is ever stored in it, so completions
// are dispatched with a table lookup rather than a handle map.
type UserData uint64

// MaxIndex is the largest index a UserData can carry (24 bits).
const MaxIndex = 1<<24 - 1

// Tag says which operation a completion belongs to. Tag 0 is never issued, so
// a zeroed user_data is recognisably not ours.
type Tag uint8

// The binding's tags. Its one convention: a helper with a UserData
// parameter hands the caller's value to the kernel untouched; a helper
// without one (the seed's socket helpers on a fixed-file slot, such as
// SubmitMultishotRecv, SubmitSendCopied and SubmitClose, and
// SubmitTickTimeout, SubmitEventfdRead and SubmitAsyncCancel) builds its own
// as tag | index | payload, with the tag its doc comment names. The other
// tags (TagTimer and the UDP, file, NVMe, poll, NOP and accept tags) are for
// callers building user_data for the helpers that take one. A caller with tags
// of its own may pack user_data any way it likes: all 64 bits come back in
// the completion.
const (
	TagNone                         Tag = iota // never issued
	TagRecvMulti                               // multishot recv from a provided-buffer group
	TagRecvMsgMultiTs                          // multishot recvmsg on TCP with timestamps
	TagSend                                    // copied send from a send-pool slot
	TagSendMsgZC                               // zero-copy sendmsg
	TagSendMsgCoalesced                        // sendmsg gathering several queued sends
	TagSendMsgCoalescedPollOut                 // POLLOUT arm after a coalesced send saw EAGAIN
	TagSendRecvBufsCoalesced                   // sendmsg forwarding held receive buffers
	TagSendRecvBufsCoalescedPollOut            // POLLOUT arm after a recv-forward send saw EAGAIN
	TagTLSSend                                 // TLS-internal send (handshake, alert, close_notify)
	TagEventFdRead                             // read of an eventfd (SubmitEventfdRead)
	TagClose                                   // close of a direct descriptor
	TagShutdown                                // shutdown(SHUT_WR)
	TagConnect                                 // outbound connect
	TagTickTimeout                             // the loop's tick timer
	TagTimer                                   // a user timer
	TagCancel                                  // async cancel
	TagUDPRecvMsg                              // UDP multishot recvmsg
	TagUDPSendMsg                              // UDP sendmsg with destination
	TagUDPRecv                                 // UDP multishot recv on a connected socket
	TagUDPSend                                 // UDP send on a connected socket
	TagNvmeCmd                                 // NVMe passthrough command
	TagDirectIO                                // read, write or fsync on a fixed file
	TagFsOp                                    // openat, statx, renameat, unlinkat, mkdirat
	TagPoll                                    // a poll on a descriptor (SubmitPollAdd)
	TagSendPollOut                             // POLLOUT arm after a copied send saw EAGAIN
	TagNop                                     // NOP, plain or with an injected result
	TagAccept                                  // multishot accept on a listener
	tagCount                                   // one past the last valid tag
)

var tagNames = [tagCount]string{
	"none", "recv-multishot", "recvmsg-multishot-ts", "send", "sendmsg-zc",
	"sendmsg-coalesced", "sendmsg-coalesced-pollout", "send-recvbufs-coalesced",
	"send-recvbufs-coalesced-pollout", "tls-send", "eventfd-read", "close", "shutdown",
	"connect", "tick-timeout", "timer", "cancel", "udp-recvmsg", "udp-sendmsg",
	"udp-recv", "udp-send", "nvme-cmd", "direct-io", "fs-op", "poll", "send-pollout", "nop", "accept",
}

// String names the tag, or gives its number when it is not one of ours.
func (t Tag) String() string {
	if t < tagCount {
		return tagNames[t]
	}
	return fmt.Sprintf("tag(%d)", uint8(t))
}

// Valid reports whether t is a tag the binding issues.
func (t Tag) Valid() bool { return t > TagNone && t < tagCount }

// NewUserData packs tag, index and payload. An index past 24 bits is refused
// with ErrIndexRange rather than truncated, and so is a tag the binding does not issue.
func NewUserData(tag Tag, index, payload uint32) (UserData, error) {
	if index > MaxIndex {
		return 0, indexRangeError(index)
	}
	if !tag.Valid() {
		return 0, fmt.Errorf("ringline: user_data: %v is not an issued tag", tag)
	}
	return UserData(uint64(tag)<<56 | uint64(index)<<32 | uint64(payload)), nil
}

// Tag returns the operation tag.
func (u UserData) Tag() Tag { return Tag(u >> 56) }

// Index returns the 24-bit index.
func (u UserData) Index() uint32 { return uint32(u>>32) & MaxIndex }

// Payload returns the low 32 bits.
func (u UserData) Payload() uint32 { return uint32(u) }

// String shows the three fields.
func (u UserData) String() string {
	return fmt.Sprintf("%v/%d/%d", u.Tag(), u.Index(), u.Payload())
}
