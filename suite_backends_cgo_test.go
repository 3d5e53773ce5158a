//go:build linux && cgo

package ringline

import "runtime"

func builtBackends() []backendCase {
	return []backendCase{{name: "io_uring", cfg: Config{}}}
}

// backendUsable sets a ring up to see whether the kernel allows io_uring here.
func backendUsable(bc backendCase) error {
	return probeRing()
}

func probeRing() error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	r, err := NewRing(RingConfig{Entries: 8})
	if err == nil {
		r.Close()
	}
	return err
}
