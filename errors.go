package ringline

import (
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
)

// Sentinel errors. Match them with errors.Is; errors carrying an errno also
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
	// ErrArenaFull: an Arena has no room left for an allocation.
	ErrArenaFull = errors.New("ringline: arena full")

	// ErrSendPoolExhausted: the worker's send pool has too few free slots for
	// the whole message; nothing of it was queued. Retry when sends complete.
	ErrSendPoolExhausted = errors.New("ringline: send pool exhausted")
	// ErrSendTooLarge: a message needs more slots than the whole send pool
	// has; it can never be sent whole (send it in pieces, or with SendSome).
	ErrSendTooLarge = errors.New("ringline: message larger than the send pool")
	// ErrTimerPoolExhausted: every timer slot of the worker is in use.
	ErrTimerPoolExhausted = errors.New("ringline: timer pool exhausted")
	// ErrConnLimit: the worker already holds Config.MaxConns connections.
	ErrConnLimit = errors.New("ringline: connection limit reached")
	// ErrStaleConn: the handle names a connection that has closed; its slot
	// may serve another connection now.
	ErrStaleConn = errors.New("ringline: stale connection handle")
	// ErrConnClosing: the connection is closing and takes no more sends. It
	// matches net.ErrClosed too.
	ErrConnClosing = fmt.Errorf("ringline: connection closing: %w", net.ErrClosed)
	// ErrRecvBufferFull: a connection held more unconsumed bytes than
	// Config.AccCap allows, and was closed.
	ErrRecvBufferFull = errors.New("ringline: receive accumulator cap exceeded")
	// ErrCallbackPanic: a handler callback panicked; the error closing its
	// connection wraps this and carries the panic value.
	ErrCallbackPanic = errors.New("ringline: handler panicked")
	// ErrLocalClose: the connection was closed by Conn.Close or CloseWrite.
	ErrLocalClose = errors.New("ringline: closed locally")
	// ErrAborted: the connection was closed by Conn.Abort (reset sent).
	ErrAborted = errors.New("ringline: aborted locally")
	// ErrServerClosed: the server shut down. It matches net.ErrClosed too.
	ErrServerClosed = fmt.Errorf("ringline: server closed: %w", net.ErrClosed)
	// ErrDialTimeout: a dial did not connect in time. It matches
	// os.ErrDeadlineExceeded too, and its Timeout method reports true, as
	// net.Error's does.
	ErrDialTimeout error = &timeoutError{"ringline: dial timed out"}
	// ErrPostQueueFull: the worker's queue of posted functions is full.
	ErrPostQueueFull = errors.New("ringline: worker post queue full")
	// ErrUnsupported: the operation or platform is not supported here. It
	// matches errors.ErrUnsupported too.
	ErrUnsupported = fmt.Errorf("ringline: %w", errors.ErrUnsupported)
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

// errnoError turns a negative errno return (liburing's convention) into an
// *Error naming op; a non-negative ret is not an error.
func errnoError(op string, ret int, hint string) error {
	if ret >= 0 {
		return nil
	}
	return &Error{Op: op, Errno: syscall.Errno(-ret), Hint: hint}
}

func indexRangeError(index uint32) error {
	return fmt.Errorf("%w: %d > %d", ErrIndexRange, index, MaxIndex)
}

// timeoutError is a sentinel that is also a net.Error timeout.
type timeoutError struct{ msg string }

func (e *timeoutError) Error() string   { return e.msg }
func (e *timeoutError) Timeout() bool   { return true }
func (e *timeoutError) Temporary() bool { return true }
func (e *timeoutError) Unwrap() error   { return os.ErrDeadlineExceeded }
