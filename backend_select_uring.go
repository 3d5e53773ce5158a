//go:build linux && cgo

package ringline

import "github.com/ringline-go/ringline/internal/backend"

// selectBackend names the engine the workers use and how to make one.
func selectBackend() (string, func(backend.Config) (backend.Backend, error), error) {
	return "io_uring", newUringBackend, nil
}
