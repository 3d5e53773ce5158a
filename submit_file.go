//go:build linux && cgo

package ringline

// #include "liburing_shim.h"
import "C"

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// File submissions on plain descriptors, with the caller's user_data: what
// a runtime needs to open, read, write, sync and stat ordinary files and to
// send NVMe commands without a fixed-file table. Buffers, paths and statx
// buffers are off-heap (or pinned) and valid until the completion.

// SubmitOpenatFd opens path (relative to the working directory) with open(2)
// flags and mode. The completion's result is the new descriptor, or -errno.
// path: NUL-terminated, off-heap, valid until the completion.
func (r *Ring) SubmitOpenatFd(path *byte, flags int, mode uint32, ud UserData) error {
	op, err := r.push(kindOpenat, ud, 0)
	if err == nil {
		op.addr, op.flags, op.len = ptrAddr(path), C.uint32_t(flags), C.uint32_t(mode)
	}
	return err
}

// SubmitReadFd reads up to len(buf) bytes at offset off of descriptor fd
// into buf (pread). The result is the count read, 0 at end of file, or
// -errno. For O_DIRECT, buf's address and length and off must be aligned as
// the file requires (statx's STATX_DIOALIGN).
func (r *Ring) SubmitReadFd(fd int, buf []byte, off uint64, ud UserData) error {
	return r.rwFd(kindRead, fd, buf, off, ud)
}

// SubmitWriteFd writes buf at offset off of descriptor fd (pwrite), with
// the rules of SubmitReadFd. The result is the count written or -errno.
func (r *Ring) SubmitWriteFd(fd int, buf []byte, off uint64, ud UserData) error {
	return r.rwFd(kindWrite, fd, buf, off, ud)
}

func (r *Ring) rwFd(kind uint8, fd int, buf []byte, off uint64, ud UserData) error {
	op, err := r.push(kind, ud, 0)
	if err == nil {
		op.fd, op.addr, op.len, op.off = C.int32_t(fd), addrOf(buf), C.uint32_t(len(buf)), C.uint64_t(off)
	}
	return err
}

// SubmitFsyncFd flushes descriptor fd to stable storage: fsync(2), or
// fdatasync(2) when datasync is set.
func (r *Ring) SubmitFsyncFd(fd int, datasync bool, ud UserData) error {
	op, err := r.push(kindFsync, ud, 0)
	if err == nil {
		op.fd = C.int32_t(fd)
		if datasync {
			op.flags = C.IORING_FSYNC_DATASYNC
		}
	}
	return err
}

// SubmitStatxFd fills buf with the stats of the file open as descriptor fd
// (statx with AT_EMPTY_PATH, as fstat): the fields mask asks for, among them
// STATX_DIOALIGN (Linux 6.1) for O_DIRECT's alignment. buf (Arena.Statx):
// off-heap, valid until the completion.
func (r *Ring) SubmitStatxFd(fd int, mask uint32, buf *unix.Statx_t, ud UserData) error {
	if buf == nil {
		return r.abortChain(fmt.Errorf("ringline: statx needs a buffer"))
	}
	op, err := r.push(kindStatx, ud, 0)
	if err == nil {
		op.fd, op.addr2 = C.int32_t(fd), ptrAddr(buf)
		op.flags, op.aux = unix.AT_EMPTY_PATH|unix.AT_STATX_SYNC_AS_STAT, C.uint32_t(mask)
	}
	return err
}

// SubmitNvmeCmdFd is SubmitNvmeCmd on a plain descriptor of an NVMe generic
// character device (/dev/ngXnY).
func (r *Ring) SubmitNvmeCmdFd(fd int, cmd *NvmeUringCmd, ud UserData) error {
	op, err := r.push(kindUringCmd, ud, 0)
	if err == nil {
		op.fd = C.int32_t(fd)
		r.putNvmeCmd(op, cmd)
	}
	return err
}
