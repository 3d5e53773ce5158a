package ringline

import (
	"errors"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/ringline-go/ringline/internal/offheap"
)

// ErrArenaFull: an Arena has no room left for an allocation.
var ErrArenaFull = offheap.ErrFull

// Arena is memory outside the Go heap, mapped with mmap, for everything the
// kernel may read or write after a submission returns: data buffers,
// msghdr and iovec arrays, sockaddrs, timespecs, statx buffers and paths.
// Allocations are carved in order and live until Close, which unmaps them
// all; nothing from an Arena may be in flight then. An Arena is not safe for
// concurrent use.
type Arena struct {
	a *offheap.Arena // the allocator, shared with the packages above the binding
}

// NewArena maps size bytes (rounded up to whole pages). The mapping starts
// page-aligned, so an Alloc with page alignment suits O_DIRECT.
func NewArena(size int) (*Arena, error) {
	a, err := offheap.New(size)
	var errno unix.Errno
	if errors.As(err, &errno) {
		return nil, &Error{Op: "mmap arena", Errno: errno}
	}
	if err != nil {
		return nil, err
	}
	return &Arena{a: a}, nil
}

// Alloc returns n zeroed bytes aligned to align, a power of two no larger
// than the page size, or ErrArenaFull.
func (a *Arena) Alloc(n, align int) ([]byte, error) { return a.a.Alloc(n, align) }

// Timespec returns a timespec holding d, for relative timeouts.
func (a *Arena) Timespec(d time.Duration) (*unix.Timespec, error) { return a.a.Timespec(d) }

// CString returns s as a NUL-terminated path. s must not contain NUL.
func (a *Arena) CString(s string) (*byte, error) { return a.a.CString(s) }

// Statx returns a statx buffer for SubmitStatx.
func (a *Arena) Statx() (*unix.Statx_t, error) { return a.a.Statx() }

// Msghdr returns a zeroed msghdr with an array of iovs iovecs attached
// (Iov and Iovlen set); fill the iovecs with SetIovec and, as needed, point
// Name and Control at memory from the same Arena.
func (a *Arena) Msghdr(iovs int) (*unix.Msghdr, []unix.Iovec, error) { return a.a.Msghdr(iovs) }

// SetIovec points iov, an iovec in an Arena, at b, which may be Arena memory
// or Go memory pinned with runtime.Pinner. Use it rather than assigning
// iov.Base: it stores the address as an integer, with no write barrier.
// The collector never scans an Arena, but a pointer-typed store there
// shades the field's old value, and when that names Go memory unpinned and
// freed since (an earlier send's buffer) the runtime throws "found bad
// pointer in Go heap".
func SetIovec(iov *unix.Iovec, b []byte) {
	offheap.SetIovec(iov, unsafe.Pointer(unsafe.SliceData(b)), len(b))
}

// Sockaddr encodes an IPv4, IPv6 or Unix socket address in its raw kernel
// form, for SubmitConnect or a msghdr's Name.
func (a *Arena) Sockaddr(sa unix.Sockaddr) ([]byte, error) { return a.a.Sockaddr(sa) }

// Close unmaps the arena. Nothing allocated from it may still be in flight.
func (a *Arena) Close() error { return a.a.Close() }
