//go:build linux && cgo

package ringline

// #include "liburing_shim.h"
import "C"

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// Storage submissions: direct I/O on fixed files, NVMe passthrough and
// path-based filesystem operations, all with the caller's user_data (tags
// TagDirectIO, TagNvmeCmd, TagFsOp). Paths are NUL-terminated, off-heap
// (Arena.CString) and valid until the completion.

// SubmitDirectRead reads len(buf) bytes at off from the file in fixed slot
// into buf. For O_DIRECT, buf's address, its length and off must be aligned
// to the logical block size (an Arena allocation aligned to the page size
// is). buf: off-heap, valid until the completion.
func (r *Ring) SubmitDirectRead(slot uint32, buf []byte, off uint64, ud UserData) error {
	return r.rw(kindRead, slot, buf, off, ud)
}

// SubmitDirectWrite writes buf at off to the file in fixed slot, with the
// rules of SubmitDirectRead.
func (r *Ring) SubmitDirectWrite(slot uint32, buf []byte, off uint64, ud UserData) error {
	return r.rw(kindWrite, slot, buf, off, ud)
}

func (r *Ring) rw(kind uint8, slot uint32, buf []byte, off uint64, ud UserData) error {
	op, err := r.pushFixedUD(kind, slot, ud, 0)
	if err == nil {
		op.addr, op.len, op.off = addrOf(buf), C.uint32_t(len(buf)), C.uint64_t(off)
	}
	return err
}

// SubmitDirectFsync flushes the file in fixed slot to stable storage.
func (r *Ring) SubmitDirectFsync(slot uint32, ud UserData) error {
	_, err := r.pushFixedUD(kindFsync, slot, ud, 0)
	return err
}

// SubmitNvmeCmd sends cmd to the NVMe generic character device (/dev/ngXnY)
// in fixed slot as IORING_OP_URING_CMD with NvmeUringCmdIO (Linux 5.19+).
// The command is copied into the SQE; the data buffer it points at (cmd.Addr)
// must be off-heap and valid until the completion. Read the outcome with
// NvmeResult; a file that is not an NVMe device answers -EOPNOTSUPP.
func (r *Ring) SubmitNvmeCmd(slot uint32, cmd *NvmeUringCmd, ud UserData) error {
	op, err := r.pushFixedUD(kindUringCmd, slot, ud, 0)
	if err == nil {
		r.putNvmeCmd(op, cmd)
	}
	return err
}

// putNvmeCmd makes op, the descriptor just pushed, an NVMe I/O command: its
// command area holds cmd.
func (r *Ring) putNvmeCmd(op *cOp, cmd *NvmeUringCmd) {
	op.aux = NvmeUringCmdIO
	at := (r.pending - 1) * cmdAreaSize
	area := r.cmds[at : at+cmdAreaSize]
	cmd.MarshalTo(area)
	clear(area[NvmeUringCmdSize:])
}

// SubmitOpenat opens path straight into fixed-file slot (Linux 5.15+): no
// regular descriptor is created. The completion's result is 0 on success.
// path: NUL-terminated, off-heap, valid until the completion.
func (r *Ring) SubmitOpenat(slot uint32, path *byte, flags int, mode uint32, ud UserData) error {
	op, err := r.pushSlot(kindOpenatDirect, slot, ud, 0)
	if err == nil {
		op.addr, op.flags, op.len, op.aux = ptrAddr(path), C.uint32_t(flags), C.uint32_t(mode), C.uint32_t(slot)
	}
	return err
}

// SubmitStatx fills buf with path's basic stats (STATX_BASIC_STATS,
// AT_STATX_SYNC_AS_STAT; Linux 5.6+). path and buf (Arena.Statx): off-heap,
// valid until the completion.
func (r *Ring) SubmitStatx(path *byte, buf *unix.Statx_t, ud UserData) error {
	if buf == nil {
		return r.abortChain(fmt.Errorf("ringline: statx needs a buffer"))
	}
	op, err := r.push(kindStatx, ud, 0)
	if err == nil {
		op.fd, op.addr, op.addr2 = unix.AT_FDCWD, ptrAddr(path), ptrAddr(buf)
		op.flags, op.aux = unix.AT_STATX_SYNC_AS_STAT, unix.STATX_BASIC_STATS
	}
	return err
}

// SubmitRenameat renames oldPath to newPath (Linux 5.11+). Both paths:
// NUL-terminated, off-heap, valid until the completion.
func (r *Ring) SubmitRenameat(oldPath, newPath *byte, ud UserData) error {
	op, err := r.push(kindRenameat, ud, 0)
	if err == nil {
		op.addr, op.addr2 = ptrAddr(oldPath), ptrAddr(newPath)
	}
	return err
}

// SubmitUnlinkat removes path; flags may hold AT_REMOVEDIR (Linux 5.11+).
// path: NUL-terminated, off-heap, valid until the completion.
func (r *Ring) SubmitUnlinkat(path *byte, flags int, ud UserData) error {
	op, err := r.push(kindUnlinkat, ud, 0)
	if err == nil {
		op.addr, op.flags = ptrAddr(path), C.uint32_t(flags)
	}
	return err
}

// SubmitMkdirat creates directory path with mode (Linux 5.15+). path:
// NUL-terminated, off-heap, valid until the completion.
func (r *Ring) SubmitMkdirat(path *byte, mode uint32, ud UserData) error {
	op, err := r.push(kindMkdirat, ud, 0)
	if err == nil {
		op.addr, op.len = ptrAddr(path), C.uint32_t(mode)
	}
	return err
}
