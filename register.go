//go:build linux && cgo

package ringline

// #include "liburing_shim.h"
import "C"

import (
	"fmt"
	"unsafe"
)

// RegisterFilesSparse registers an empty fixed-file table of n slots
// (Linux 5.19+). Slots are filled with UpdateFiles or by SubmitOpenat, and
// every fixed-file operation is checked against the table size.
func (r *Ring) RegisterFilesSparse(n uint32) error {
	if r.c == nil {
		return ErrRingClosed
	}
	if err := errnoError("register files (sparse)", int(C.rl_register_files_sparse(r.c, C.uint(n))), ""); err != nil {
		return err
	}
	r.files = n
	return nil
}

// UpdateFiles installs fds into the fixed-file table from slot on (Linux
// 5.12+); an fd of -1 clears its slot. The kernel takes its own reference, so
// the caller may close its fds afterwards.
func (r *Ring) UpdateFiles(slot uint32, fds []int32) error {
	if r.c == nil {
		return ErrRingClosed
	}
	if len(fds) == 0 {
		return nil
	}
	if uint64(slot)+uint64(len(fds)) > uint64(r.files) {
		return slotError("fixed file", slot+uint32(len(fds))-1, r.files)
	}
	ret := C.rl_register_files_update(r.c, C.uint(slot), (*C.int)(unsafe.Pointer(&fds[0])), C.uint(len(fds)))
	return errnoError("register files update", int(ret), "")
}

// RegisterBuffersSparse registers an empty fixed-buffer table of n slots
// (Linux 5.19+), filled one slot at a time with UpdateBuffer.
func (r *Ring) RegisterBuffersSparse(n uint32) error {
	if r.c == nil {
		return ErrRingClosed
	}
	if err := errnoError("register buffers (sparse)", int(C.rl_register_buffers_sparse(r.c, C.uint(n))), ""); err != nil {
		return err
	}
	r.buffers = n
	return nil
}

// UpdateBuffer registers buf as fixed buffer slot (Linux 5.13+). buf must
// stay valid, off the Go heap (an Arena, a BufRing) or pinned, until the slot
// is cleared or the ring closed, and no operation using the slot may be in flight.
func (r *Ring) UpdateBuffer(slot uint32, buf []byte) error {
	if len(buf) == 0 {
		return fmt.Errorf("ringline: UpdateBuffer slot %d: empty buffer; use ClearBuffer to empty a slot", slot)
	}
	return r.updateBuffer(slot, unsafe.Pointer(unsafe.SliceData(buf)), len(buf))
}

// ClearBuffer empties fixed buffer slot; no operation using it may be in flight.
func (r *Ring) ClearBuffer(slot uint32) error { return r.updateBuffer(slot, nil, 0) }

func (r *Ring) updateBuffer(slot uint32, base unsafe.Pointer, n int) error {
	if r.c == nil {
		return ErrRingClosed
	}
	if slot >= r.buffers {
		return slotError("fixed buffer", slot, r.buffers)
	}
	ret := C.rl_register_buffer_update(r.c, C.uint(slot), base, C.size_t(n))
	return errnoError("register buffers update", int(ret), "")
}
