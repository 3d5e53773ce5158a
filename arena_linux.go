package ringline

import (
	"errors"
	"time"

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
// (Iov and Iovlen set); fill the iovecs and, as needed, Name and Control.
func (a *Arena) Msghdr(iovs int) (*unix.Msghdr, []unix.Iovec, error) { return a.a.Msghdr(iovs) }

// Sockaddr encodes an IPv4, IPv6 or Unix socket address in its raw kernel
// form, for SubmitConnect or a msghdr's Name.
func (a *Arena) Sockaddr(sa unix.Sockaddr) ([]byte, error) { return a.a.Sockaddr(sa) }

// Close unmaps the arena. Nothing allocated from it may still be in flight.
func (a *Arena) Close() error { return a.a.Close() }
