package rio

import (
	"errors"
	"fmt"
	"net"
	"os"
)

// The runtime's sentinel errors. Match them with errors.Is; errors carrying
// an errno also match the syscall.Errno.
var (
	// ErrSendPoolExhausted: the worker's send pool has too few free slots for
	// the whole message; nothing of it was queued. Retry when sends complete.
	ErrSendPoolExhausted = errors.New("rio: send pool exhausted")
	// ErrSendBudgetExhausted: the message would take the connection past
	// Config.SendBudget bytes queued and unsent; nothing of it was queued.
	// Retry when the connection's own sends complete.
	ErrSendBudgetExhausted = errors.New("rio: connection's send budget exhausted")
	// ErrSendTooLarge: a message is larger than the connection's send budget
	// or the whole send pool; it can never be sent whole (send it in pieces,
	// or with SendSome).
	ErrSendTooLarge = errors.New("rio: message larger than the send budget or pool")
	// ErrTimerPoolExhausted: every timer slot of the worker is in use.
	ErrTimerPoolExhausted = errors.New("rio: timer pool exhausted")
	// ErrConnLimit: the worker already holds Config.MaxConns connections.
	ErrConnLimit = errors.New("rio: connection limit reached")
	// ErrStaleConn: the handle names a connection that has closed; its slot
	// may serve another connection now.
	ErrStaleConn = errors.New("rio: stale connection handle")
	// ErrConnClosing: the connection is closing and takes no more sends. It
	// matches net.ErrClosed too.
	ErrConnClosing = fmt.Errorf("rio: connection closing: %w", net.ErrClosed)
	// ErrRecvBufferFull: a connection held more unconsumed bytes than
	// Config.AccCap allows, and was closed.
	ErrRecvBufferFull = errors.New("rio: receive accumulator cap exceeded")
	// ErrCallbackPanic: a handler callback panicked; the error closing its
	// connection wraps this and carries the panic value.
	ErrCallbackPanic = errors.New("rio: handler panicked")
	// ErrLocalClose: the connection was closed by Conn.Close or CloseWrite.
	ErrLocalClose = errors.New("rio: closed locally")
	// ErrAborted: the connection was closed by Conn.Abort (reset sent).
	ErrAborted = errors.New("rio: aborted locally")
	// ErrServerClosed: the server shut down. It matches net.ErrClosed too.
	ErrServerClosed = fmt.Errorf("rio: server closed: %w", net.ErrClosed)
	// ErrDialTimeout: a dial did not connect in time. It matches
	// os.ErrDeadlineExceeded too, and its Timeout method reports true, as
	// net.Error's does.
	ErrDialTimeout error = &timeoutError{"rio: dial timed out"}
	// ErrPostQueueFull: the worker's queue of posted functions is full.
	ErrPostQueueFull = errors.New("rio: worker post queue full")
	// ErrFileOpsExhausted: the worker already has Config.FileOps file
	// operations in flight; retry when one completes.
	ErrFileOpsExhausted = errors.New("rio: file operations exhausted")
	// ErrMisaligned: an O_DIRECT read or write whose offset, length or
	// buffer address is not a multiple of what the file requires; the error
	// says which, and the kernel never saw the request.
	ErrMisaligned = errors.New("rio: misaligned direct I/O")
	// ErrNotNvme: the file is not an NVMe generic character device
	// (/dev/ngXnY), so it takes no NVMe commands.
	ErrNotNvme = errors.New("rio: not an NVMe generic character device")
	// ErrDatagramTooLarge: a datagram larger than Config.DgramSize; nothing
	// was sent.
	ErrDatagramTooLarge = errors.New("rio: datagram larger than Config.DgramSize")
	// ErrNotDatagram: SendTo on a worker that serves no UDP socket.
	ErrNotDatagram = errors.New("rio: the worker has no UDP socket")
	// ErrBadAddress: a destination that is not a valid IP address and port
	// of the socket's family.
	ErrBadAddress = errors.New("rio: bad destination address")
	// ErrTLS: TLS failed on a connection (see TLSError, which matches it).
	ErrTLS = errors.New("rio: TLS failed")
	// ErrUnsupported: the operation or platform is not supported here. It
	// matches errors.ErrUnsupported too.
	ErrUnsupported = fmt.Errorf("rio: %w", errors.ErrUnsupported)
)

// timeoutError is a sentinel that is also a net.Error timeout.
type timeoutError struct{ msg string }

func (e *timeoutError) Error() string   { return e.msg }
func (e *timeoutError) Timeout() bool   { return true }
func (e *timeoutError) Temporary() bool { return true }
func (e *timeoutError) Unwrap() error   { return os.ErrDeadlineExceeded }
