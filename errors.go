package ringline

import (
	"errors"
	"fmt"
	"net"
	"syscall"
)

// The binding's sentinel errors. Match them with errors.Is; errors carrying an errno also
// match the syscall.Errno.
var (
	// ErrIndexRange: an index does not fit the 24 bits of a UserData.
	ErrIndexRange = errors.New("ringline: index exceeds 24 bits")
	// ErrSQFull: the submission queue stayed full after one submit and retry.
	ErrSQFull = errors.New("ringline: submission queue full")
	// ErrChainTooLarge: a linked chain does not fit the free submission queue space.
	ErrChainTooLarge = errors.New("ringline: linked chain larger than the free submission queue space")
	// ErrChainOpen: the ring was asked to submit, or to open a chain, while a chain was incomplete.
	ErrChainOpen = errors.New("ringline: a linked chain is still open")
	// ErrSlotRange: a slot lies outside a registered table.
	ErrSlotRange = errors.New("ringline: slot outside the registered table")
	// ErrRingClosed: the ring has been closed. It matches net.ErrClosed too.
	ErrRingClosed = fmt.Errorf("ringline: ring: %w", net.ErrClosed)
)

// Error is a failed system call or kernel operation: what was attempted, the
// errno the kernel gave and, where it helps, what to do about it.
type Error struct {
	Op    string        // the operation or call, e.g. "io_uring_setup"
	Errno syscall.Errno // the kernel's answer
	Hint  string        // what it means here and what to do; may be empty
}

// Error formats the operation, the errno and the hint.
func (e *Error) Error() string {
	if e.Hint == "" {
		return fmt.Sprintf("ringline: %s: %v", e.Op, e.Errno)
	}
	return fmt.Sprintf("ringline: %s: %v: %s", e.Op, e.Errno, e.Hint)
}

// Unwrap returns the errno, so errors.Is(err, syscall.EPERM) works.
func (e *Error) Unwrap() error { return e.Errno }

func indexRangeError(index uint32) error {
	return fmt.Errorf("%w: %d > %d", ErrIndexRange, index, MaxIndex)
}
