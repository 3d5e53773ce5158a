package rio

// The runtime's user_data: every operation a worker queues carries
//
//	bits 63..56  op          (8 bits)  which operation this is
//	bits 55..32  slot        (24 bits) the connection or timer slot
//	bits 31..0   generation  (32 bits) the slot's generation when queued
//
// so a completion for a slot's earlier occupant is recognised and dropped.
// It is a plain integer: the backend hands it back untouched, and no Go
// pointer is ever stored in it. These tags are the runtime's own; the
// binding's UserData tags belong to its Ring helpers.

// op says which of the worker's operations a completion belongs to. Op 0 is
// never issued, so a zeroed user_data is recognisably not ours.
type op uint8

const (
	opNone        op = iota // never issued
	opAccept                // multishot accept on the worker's listener
	opRecv                  // multishot receive on a connection
	opSend                  // coalesced sendmsg of a connection's queued segments
	opPollOut               // POLLOUT wait after a send saw EAGAIN
	opConnect               // an outbound connect
	opShutdown              // shutdown(SHUT_WR)
	opClose                 // close of a connection's descriptor
	opCancel                // cancellation of an armed operation
	opTimer                 // a user timer or a dial timeout
	opWake                  // read of the worker's wake eventfd
	opFile                  // a file operation; slot: its operation slot
	opDgram                 // multishot recvmsg on the worker's UDP socket
	opDgramSend             // a datagram's sendmsg; slot: its send slot
	opFileClose             // a file's close; slot: the file's own slot
	opUDPConnRecv           // multishot recvmsg of a connected datagram socket; slot: its UDPConn slot
)

// maxSlot is the largest slot a user_data can carry (24 bits).
const maxSlot = 1<<24 - 1

// userData packs op, slot and generation. Slots never exceed maxSlot:
// Config.Validate bounds MaxConns and TimerSlots.
func userData(o op, slot, gen uint32) uint64 {
	return uint64(o)<<56 | uint64(slot&maxSlot)<<32 | uint64(gen)
}

// parseUserData unpacks what userData packed.
func parseUserData(u uint64) (o op, slot, gen uint32) {
	return op(u >> 56), uint32(u>>32) & maxSlot, uint32(u)
}
