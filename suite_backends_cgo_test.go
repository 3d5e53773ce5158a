//go:build linux && cgo

package ringline

import "runtime"

func builtBackends() []backendCase {
	return []backendCase{
		{name: "io_uring", cfg: Config{Backend: BackendIOUring}},
		{name: "epoll", cfg: Config{Backend: BackendEpoll}},
	}
}

// backendUsable sets a ring up to see whether the kernel allows io_uring
// here; epoll always can.
func backendUsable(bc backendCase) error {
	if bc.cfg.Backend == BackendEpoll {
		return nil
	}
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

// probeUsable says whether io_uring can be set up here.
func probeUsable() error { return probeRing() }
