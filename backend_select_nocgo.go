//go:build linux && !cgo

package ringline

import (
	"fmt"

	"github.com/ringline-go/ringline/internal/backend"
)

// selectBackend names the engine the workers use and how to make one.
func selectBackend() (string, func(backend.Config) (backend.Backend, error), error) {
	return "", nil, fmt.Errorf("%w: this binary was built without cgo, so it has no io_uring backend, and the epoll backend is not written yet", ErrUnsupported)
}
