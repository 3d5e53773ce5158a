//go:build linux && !cgo

package ringline

import "errors"

func builtBackends() []backendCase {
	return []backendCase{{name: "epoll", cfg: Config{Backend: BackendEpoll}}}
}

func backendUsable(backendCase) error { return nil }

// probeUsable: a build without cgo has no io_uring.
func probeUsable() error { return errors.New("built without cgo") }
