//go:build linux

// Package offheap maps memory outside the Go heap for everything the kernel
// may read or write after a submission returns. The binding's Arena and the
// runtime's workers both carve their msghdrs, iovecs, sockaddrs, timespecs
// and buffers from it; the garbage collector never moves or frees it.
package offheap

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ErrFull: an Arena has no room left for an allocation.
var ErrFull = errors.New("ringline: arena full")

// Arena is memory outside the Go heap, mapped with mmap, for everything the
// kernel may read or write after a submission returns: data buffers,
// msghdr and iovec arrays, sockaddrs, timespecs, statx buffers and paths.
// Allocations are carved in order and live until Close, which unmaps them
// all; nothing from an Arena may be in flight then. An Arena is not safe for
// concurrent use.
type Arena struct {
	mem []byte // the mapping; nil after Close
	off int    // first free byte
}

// New maps size bytes (rounded up to whole pages). The mapping starts
// page-aligned, so an Alloc with page alignment suits O_DIRECT.
func New(size int) (*Arena, error) {
	if size <= 0 {
		return nil, fmt.Errorf("ringline: arena of %d bytes: size must be positive", size)
	}
	page := unix.Getpagesize()
	size = (size + page - 1) &^ (page - 1)
	mem, err := unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return nil, fmt.Errorf("ringline: mmap arena of %d bytes: %w", size, err)
	}
	return &Arena{mem: mem}, nil
}

// Alloc returns n zeroed bytes aligned to align, a power of two no larger
// than the page size, or ErrFull.
func (a *Arena) Alloc(n, align int) ([]byte, error) {
	if a.mem == nil {
		return nil, fmt.Errorf("ringline: arena: %w", net.ErrClosed)
	}
	if n < 0 || align <= 0 || align&(align-1) != 0 || align > unix.Getpagesize() {
		return nil, fmt.Errorf("ringline: arena allocation of %d bytes aligned to %d: want n >= 0 and a power-of-two alignment up to the page size", n, align)
	}
	start := (a.off + align - 1) &^ (align - 1)
	if start+n > len(a.mem) {
		return nil, fmt.Errorf("%w: %d bytes wanted, %d free", ErrFull, n, len(a.mem)-min(start, len(a.mem)))
	}
	a.off = start + n
	return a.mem[start : start+n : start+n], nil
}

// Object returns a zeroed T carved from a.
func Object[T any](a *Arena) (*T, error) {
	var zero T
	b, err := a.Alloc(int(unsafe.Sizeof(zero)), int(unsafe.Alignof(zero)))
	if err != nil {
		return nil, err
	}
	return (*T)(unsafe.Pointer(unsafe.SliceData(b))), nil
}

// Timespec returns a timespec holding d, for relative timeouts.
func (a *Arena) Timespec(d time.Duration) (*unix.Timespec, error) {
	ts, err := Object[unix.Timespec](a)
	if err == nil {
		*ts = unix.NsecToTimespec(d.Nanoseconds())
	}
	return ts, err
}

// CString returns s as a NUL-terminated path. s must not contain NUL.
func (a *Arena) CString(s string) (*byte, error) {
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			return nil, fmt.Errorf("ringline: path %q contains NUL", s)
		}
	}
	b, err := a.Alloc(len(s)+1, 1)
	if err != nil {
		return nil, err
	}
	copy(b, s)
	return &b[0], nil
}

// Statx returns a statx buffer for statx.
func (a *Arena) Statx() (*unix.Statx_t, error) { return Object[unix.Statx_t](a) }

// Msghdr returns a zeroed msghdr with an array of iovs iovecs attached
// (Iov and Iovlen set); fill the iovecs and, as needed, Name and Control.
func (a *Arena) Msghdr(iovs int) (*unix.Msghdr, []unix.Iovec, error) {
	msg, err := Object[unix.Msghdr](a)
	if err != nil || iovs == 0 {
		return msg, nil, err
	}
	b, err := a.Alloc(iovs*int(unsafe.Sizeof(unix.Iovec{})), int(unsafe.Alignof(unix.Iovec{})))
	if err != nil {
		return nil, nil, err
	}
	iov := unsafe.Slice((*unix.Iovec)(unsafe.Pointer(unsafe.SliceData(b))), iovs)
	msg.Iov = &iov[0]
	msg.SetIovlen(iovs)
	return msg, iov, nil
}

// Sockaddr encodes an IPv4, IPv6 or Unix socket address in its raw kernel
// form, for a connect or a msghdr's Name.
func (a *Arena) Sockaddr(sa unix.Sockaddr) ([]byte, error) {
	raw, err := RawSockaddr(sa)
	if err != nil {
		return nil, err
	}
	b, err := a.Alloc(len(raw), 8)
	if err == nil {
		copy(b, raw)
	}
	return b, err
}

// RawSockaddr encodes an IPv4, IPv6 or Unix socket address in its raw
// kernel form, in Go memory.
func RawSockaddr(sa unix.Sockaddr) ([]byte, error) {
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		b := make([]byte, unix.SizeofSockaddrInet4)
		binary.NativeEndian.PutUint16(b, unix.AF_INET)
		binary.BigEndian.PutUint16(b[2:], uint16(sa.Port))
		copy(b[4:], sa.Addr[:])
		return b, nil
	case *unix.SockaddrInet6:
		b := make([]byte, unix.SizeofSockaddrInet6)
		binary.NativeEndian.PutUint16(b, unix.AF_INET6)
		binary.BigEndian.PutUint16(b[2:], uint16(sa.Port))
		copy(b[8:], sa.Addr[:])
		binary.NativeEndian.PutUint32(b[24:], sa.ZoneId)
		return b, nil
	case *unix.SockaddrUnix:
		if len(sa.Name) >= len(unix.RawSockaddrUnix{}.Path) {
			return nil, fmt.Errorf("ringline: unix socket path %q too long", sa.Name)
		}
		b := make([]byte, 2+len(sa.Name)+1)
		binary.NativeEndian.PutUint16(b, unix.AF_UNIX)
		copy(b[2:], sa.Name)
		return b, nil
	}
	return nil, fmt.Errorf("ringline: unsupported socket address %T", sa)
}

// Close unmaps the arena. Nothing allocated from it may still be in flight.
func (a *Arena) Close() error {
	if a.mem == nil {
		return nil
	}
	err := unix.Munmap(a.mem)
	a.mem = nil
	return err
}

// SetIovec points iov, which lies in an Arena, at n bytes at p. The address
// is stored as an integer, with no write barrier, because p may be Go heap
// memory the caller pinned for the kernel. The collector never scans an
// Arena, so it neither needs to see the address nor keeps it alive; but a
// pointer-typed store would make the write barrier shade the iovec's old
// address, which may name Go memory that was unpinned and freed since its
// send completed, and the runtime throws "found bad pointer in Go heap".
func SetIovec(iov *unix.Iovec, p unsafe.Pointer, n int) {
	*(*uintptr)(unsafe.Pointer(&iov.Base)) = uintptr(p)
	iov.SetLen(n)
}
