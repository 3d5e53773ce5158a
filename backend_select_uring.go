//go:build linux && cgo

package ringline

import (
	"errors"
	"runtime"
)

// uringSupport reports whether a worker's ring can be set up here: a ring
// with the runtime's flags and a provided buffer ring, made and closed on a
// thread of its own (rings are single-issuer). It fails with the setup
// error's hint: the io_uring_disabled sysctl, a seccomp profile, memlock.
func uringSupport(cfg Config) (newBackendFunc, error) {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		ring, err := NewRing(RingConfig{Entries: uint32(cfg.SQEntries), SQPoll: cfg.SQPoll})
		if err == nil {
			_, err = ring.RegisterBufRing(recvGroup, 2, 64)
			err = errors.Join(err, ring.Close())
		}
		errc <- err
	}()
	return newUringBackend, <-errc
}
