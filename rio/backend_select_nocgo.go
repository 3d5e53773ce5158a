//go:build linux && !cgo

package rio

import "fmt"

// uringSupport: a binary built without cgo has no io_uring binding.
func uringSupport(Config) (newBackendFunc, error) {
	return nil, fmt.Errorf("%w: this binary was built without cgo, so it has no io_uring binding", ErrUnsupported)
}
