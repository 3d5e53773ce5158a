//go:build !linux

package rio

import (
	"context"
	"fmt"
	"runtime"
)

// The runtime's backends (io_uring, epoll) are Linux's. Elsewhere the
// package builds, and starting a server or a client says so until a
// portable backend exists.

// Server is a set of workers; on this OS none can start.
type Server struct{}

// Worker is one event loop; on this OS none can start.
type Worker struct{}

// Conn is a handle to a connection; on this OS there are none.
type Conn struct{}

// Listen fails with ErrUnsupported: this OS has no ringline backend.
func Listen(ctx context.Context, network, address string, cfg Config, h Handler) (*Server, error) {
	return nil, unsupportedOS()
}

// StartClient fails with ErrUnsupported: this OS has no ringline backend.
func StartClient(ctx context.Context, cfg Config, h Handler) (*Server, error) {
	return nil, unsupportedOS()
}

func unsupportedOS() error {
	return fmt.Errorf("%w: ringline's backends (io_uring, epoll) need Linux, and this is %s", ErrUnsupported, runtime.GOOS)
}
