//go:build linux

// Package backend is the contract between a ringline worker and the engine
// that performs its I/O: "queue these operations, give me completions".
//
// A Backend belongs to one worker and is used only from that worker's
// locked OS thread. Every method but Wait only queues; Wait hands the queue
// to the kernel, blocks for at least min completions (or the timeout) and
// returns the completions reaped, valid until the next Wait.
//
// Each operation carries an opaque 64-bit user_data that comes back in its
// completion; the backend never interprets it. Results follow the io_uring
// convention whatever the engine: a count or a descriptor, or -errno.
//
//	Accept    multishot: Res = new descriptor (non-blocking, close-on-exec);
//	          FlagMore while armed
//	Recv      multishot: Res = bytes in Buffer(id) (FlagBuffer, id in Flags>>16),
//	          0 at end of stream, -ENOBUFS when the pool ran dry; FlagMore while armed
//	RecvMsg   multishot recvmsg on a datagram socket: Res = bytes used of
//	          DgramBuffer(id), laid out as struct io_uring_recvmsg_out (see
//	          DgramOut); -ENOBUFS when the datagram pool ran dry; FlagMore while armed
//	SendDgram one datagram (or GSO run) on a datagram socket: Res = bytes sent or -errno
//	SendMsg   one sendmsg of the iovecs: Res = bytes sent (may be short) or -EAGAIN ...
//	PollOut   one-shot: Res = poll mask once the socket is writable
//	Connect   Res = 0 or -errno
//	Shutdown  shutdown(SHUT_WR): Res = 0 or -errno
//	CloseFd   close: Res = 0 or -errno
//	Timeout   Res = -ETIME when the absolute CLOCK_MONOTONIC deadline passes
//	Cancel    the target completes with -ECANCELED; the cancel's own
//	          completion gives 0, -ENOENT or -EALREADY
//	WakeRead  one-shot: Res = 8 once the eventfd was signalled and its counter read
//	Inject    Res = the given result, Flags = 0 (io_uring: IORING_NOP_INJECT_RESULT;
//	          refused with an error matching errors.ErrUnsupported before Linux 6.6)
//
// File operations complete the same way; the epoll engine runs them on a
// small pool of threads that posts their completions back:
//
//	OpenAt    Res = the new descriptor or -errno
//	ReadAt    Res = bytes read (0 at end of file) or -errno
//	WriteAt   Res = bytes written or -errno
//	Fsync     Res = 0 or -errno
//	Statx     Res = 0 or -errno; the buffer filled
//	Rename, Unlink, Mkdir
//	          Res = 0 or -errno
//	Nvme      Res = 0, -errno, or the NVMe status (> 0); Extra[0] = the
//	          command's result (io_uring: IORING_OP_URING_CMD; epoll: ioctl)
//
// Memory handed to a backend (msghdr, iovecs, sockaddr, timespec, eventfd
// buffer, paths, statx buffers) lives outside the Go heap, or is pinned, and
// stays valid until the completion.
package backend

import (
	"time"

	"golang.org/x/sys/unix"
)

// Completion is one finished operation. Its layout matches the binding's
// ringline.Completion, so the io_uring backend hands its batch over without copying.
type Completion struct {
	UserData uint64    // the operation's user_data
	Res      int32     // a count or descriptor, or -errno
	Flags    uint32    // FlagBuffer, FlagMore; the buffer id in the top 16 bits
	Extra    [2]uint64 // the extra bytes of a 32-byte CQE (unused by sockets)
}

// Completion flags (the io_uring CQE flag values).
const (
	FlagBuffer  = 1 << 0 // Res bytes are in the pool buffer Flags>>BufferShift
	FlagMore    = 1 << 1 // the multishot operation stays armed
	BufferShift = 16     // the buffer id's position in Flags
)

// Backend performs a worker's I/O. See the package comment for the meaning
// of each operation's result.
type Backend interface {
	// Name is "io_uring" or "epoll".
	Name() string
	// Accept arms a multishot accept on listening socket fd.
	Accept(fd int, ud uint64) error
	// Recv arms a multishot receive on socket fd into the buffer pool.
	Recv(fd int, ud uint64) error
	// Buffer returns pool buffer id; valid until Release.
	Buffer(id uint16) []byte
	// Release gives buffer id back to the pool; returns are published in batches.
	Release(id uint16)
	// RecvMsg arms a multishot recvmsg on datagram socket fd into the
	// datagram pool; msg (off-heap) is the template whose msg_namelen and
	// msg_controllen reserve room in each buffer.
	RecvMsg(fd int, msg *unix.Msghdr, ud uint64) error
	// DgramBuffer returns datagram pool buffer id; valid until DgramRelease.
	DgramBuffer(id uint16) []byte
	// DgramRelease gives datagram buffer id back to its pool.
	DgramRelease(id uint16)
	// SendDgram sends the datagram (or GSO run) msg describes on datagram
	// socket fd: Res = bytes sent or -errno. The epoll engine gathers a
	// loop iteration's datagrams per socket into sendmmsg calls.
	SendDgram(fd int, msg *unix.Msghdr, ud uint64) error
	// SendMsg sends the iovecs of msg on socket fd once.
	SendMsg(fd int, msg *unix.Msghdr, ud uint64) error
	// PollOut waits once for fd to become writable.
	PollOut(fd int, ud uint64) error
	// Connect connects socket fd to the raw sockaddr sa.
	Connect(fd int, sa []byte, ud uint64) error
	// Shutdown shuts down the write side of socket fd.
	Shutdown(fd int, ud uint64) error
	// CloseFd closes fd once the operations queued before it were handed over.
	CloseFd(fd int, ud uint64) error
	// Timeout completes with -ETIME at the absolute CLOCK_MONOTONIC deadline.
	Timeout(deadline *unix.Timespec, ud uint64) error
	// Cancel cancels the operation submitted with target; its own completion carries ud.
	Cancel(target, ud uint64) error
	// WakeRead reads eventfd efd's counter into buf (8 bytes) once it is signalled.
	WakeRead(efd int, buf []byte, ud uint64) error
	// Inject queues a completion carrying ud and res, as if an operation had
	// finished so: fault injection through the real dispatch (tests). An
	// engine that cannot inject here refuses with an error matching
	// errors.ErrUnsupported.
	Inject(ud uint64, res int32) error
	// OpenAt opens path (NUL-terminated) with open(2) flags and mode.
	OpenAt(path *byte, flags int, mode uint32, ud uint64) error
	// ReadAt reads up to len(buf) bytes of fd at off.
	ReadAt(fd int, buf []byte, off int64, ud uint64) error
	// WriteAt writes buf to fd at off.
	WriteAt(fd int, buf []byte, off int64, ud uint64) error
	// Fsync flushes fd to stable storage; datasync: fdatasync.
	Fsync(fd int, datasync bool, ud uint64) error
	// Statx fills buf with the fields of mask: of path, or of fd when path is nil.
	Statx(fd int, path *byte, mask uint32, buf *unix.Statx_t, ud uint64) error
	// Rename renames oldPath to newPath.
	Rename(oldPath, newPath *byte, ud uint64) error
	// Unlink removes path: a directory when dir is set, else any other file.
	Unlink(path *byte, dir bool, ud uint64) error
	// Mkdir creates directory path with mode.
	Mkdir(path *byte, mode uint32, ud uint64) error
	// Nvme sends an NVMe I/O command to the generic character device fd.
	Nvme(fd int, cmd *NvmeCmd, ud uint64) error
	// Wait submits what is queued, waits for min completions or timeout
	// (negative: no limit) and returns those reaped.
	Wait(min int, timeout time.Duration) ([]Completion, error)
	// SQFull counts submissions refused because the queue stayed full.
	SQFull() uint64
	// Close releases the engine; in-flight operations are cancelled.
	Close() error
}

// NvmeCmd is one NVMe I/O command: read or write Blocks logical blocks
// from block SLBA of namespace Nsid into or out of Buf (off-heap or pinned),
// or flush the namespace.
type NvmeCmd struct {
	Opcode uint8 // NvmeRead, NvmeWrite or NvmeFlush
	Nsid   uint32
	SLBA   uint64
	Blocks uint32
	Buf    []byte
}

// NVMe I/O command opcodes (NVM command set).
const (
	NvmeFlush = 0x00
	NvmeWrite = 0x01
	NvmeRead  = 0x02
)

// Config sizes a backend.
type Config struct {
	Entries      int  // submission queue entries (io_uring) or events per wait (epoll)
	SQPoll       bool // io_uring: a kernel thread polls the submission queue
	BufEntries   int  // buffers in the receive pool (a power of two)
	BufSize      int  // bytes per receive buffer
	DgramEntries int  // buffers in the datagram receive pool (a power of two); 0: none
	DgramSize    int  // bytes per datagram buffer, header and address room included
	FileOps      int  // file operations in flight at most (the worker bounds them)
	FileThreads  int  // epoll: threads that run file operations
}
