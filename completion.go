package ringline

import "syscall"

// Completion is one reaped completion queue entry, copied out of the ring.
// Its layout matches the shim's struct rl_cqe (the size is checked at build
// time; C and Go both lay the fields out in order without padding).
type Completion struct {
	UserData UserData  // the submission's user_data
	Res      int32     // result: a count, a mask, or -errno
	Flags    uint32    // IORING_CQE_F_* flags
	Extra    [2]uint64 // the 16 extra bytes of a 32-byte CQE (NVMe result in Extra[0])
}

// CQE flag bits (include/uapi/linux/io_uring.h).
const (
	CQEFBuffer       = 1 << 0 // a provided buffer was used; its id is Flags>>16
	CQEFMore         = 1 << 1 // a multishot request stays armed; more completions follow
	CQEFSockNonEmpty = 1 << 2 // the socket had more data after this receive
	CQEFNotif        = 1 << 3 // the notification of a zero-copy send: its buffer is free again
	cqeBufferShift   = 16
)

// Err returns nil for a non-negative result and the errno otherwise.
// Errno values convert to error without allocating.
func (c *Completion) Err() error {
	if c.Res >= 0 {
		return nil
	}
	return syscall.Errno(-c.Res)
}

// More reports IORING_CQE_F_MORE: the multishot request, or the zero-copy send
// awaiting its notification, is still live.
func (c *Completion) More() bool { return c.Flags&CQEFMore != 0 }

// BufferID returns the provided buffer the kernel filled, if it used one.
func (c *Completion) BufferID() (uint16, bool) {
	return uint16(c.Flags >> cqeBufferShift), c.Flags&CQEFBuffer != 0
}

// Notification reports IORING_CQE_F_NOTIF: the second completion of a
// zero-copy send, after which its memory may be reused.
func (c *Completion) Notification() bool { return c.Flags&CQEFNotif != 0 }
