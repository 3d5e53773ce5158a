//go:build linux

package ringline

import (
	"fmt"
	"runtime"

	"golang.org/x/sys/unix"
)

// ProbeReport is what Probe found out about this kernel and this build: can
// the runtime's io_uring be set up here, which of the kernel features the
// runtime and the binding use are there, the limits that bound a server, and
// which backend Config's automatic choice would take. Its JSON field names
// are stable.
type ProbeReport struct {
	// Kernel is the kernel release (uname -r).
	Kernel string `json:"kernel"`
	// IOUring reports whether a ring with the runtime's setup flags (see
	// NewRing) can be set up here.
	IOUring bool `json:"io_uring"`
	// IOUringError says why not, with what to do about it (sysctl, seccomp,
	// memlock, kernel too old); empty when IOUring is true.
	IOUringError string `json:"io_uring_error"`
	// Features lists each kernel feature the runtime or the binding uses,
	// with how it was checked; empty when the binary has no io_uring binding.
	Features []ProbeFeature `json:"features"`
	// Liburing is the liburing version the binary was built against.
	Liburing string `json:"liburing"`
	// NOFILE is RLIMIT_NOFILE: a server needs a descriptor per connection.
	NOFILE ProbeRlimit `json:"nofile"`
	// MEMLOCK is RLIMIT_MEMLOCK, the locked-memory limit io_uring charges
	// pinned memory to.
	MEMLOCK ProbeRlimit `json:"memlock"`
	// AutoBackend is the backend Config.Backend auto takes here (the same
	// selection a server makes): "io_uring" when the binding is built in and
	// the runtime's ring can be set up, else "epoll".
	AutoBackend string `json:"auto_backend"`
	// AutoReason says why, and whether that backend can run here.
	AutoReason string `json:"auto_reason"`
}

// ProbeFeature is one kernel feature and whether this kernel has it.
type ProbeFeature struct {
	// Name is the kernel's name for it (IORING_SETUP_*, IORING_OP_*) or, for
	// a capability checked by using it, a short description.
	Name string `json:"name"`
	// Supported reports whether the check passed.
	Supported bool `json:"supported"`
	// Detail says how it was checked, what uses it and, when it failed, why.
	Detail string `json:"detail"`
}

// ProbeRlimit is a resource limit; unix.RLIM_INFINITY (the largest uint64)
// means unlimited.
type ProbeRlimit struct {
	Soft  uint64 `json:"soft"`
	Hard  uint64 `json:"hard"`
	Error string `json:"error,omitempty"` // getrlimit's error, if it failed
}

// Probe reports what this kernel and this build support (see ProbeReport).
// It sets up, uses and closes a few small rings, sockets and buffer rings on
// an OS thread of its own, and leaves nothing open behind it.
func Probe() ProbeReport {
	rep := ProbeReport{
		Kernel:  kernelRelease(),
		NOFILE:  probeRlimit(unix.RLIMIT_NOFILE),
		MEMLOCK: probeRlimit(unix.RLIMIT_MEMLOCK),
	}
	done := make(chan struct{})
	go func() {
		// The probe's rings are SINGLE_ISSUER: set up, used and closed on
		// this thread. The goroutine ends locked, so the thread goes with it.
		runtime.LockOSThread()
		probeIOUring(&rep)
		close(done)
	}()
	<-done
	rep.AutoBackend, _, rep.AutoReason, _ = selectBackend(Config{}.withDefaults())
	return rep
}

func kernelRelease() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return fmt.Sprintf("unknown (uname: %v)", err)
	}
	return unix.ByteSliceToString(u.Release[:])
}

func probeRlimit(resource int) ProbeRlimit {
	var rl unix.Rlimit
	if err := unix.Getrlimit(resource, &rl); err != nil {
		return ProbeRlimit{Error: fmt.Sprintf("getrlimit: %v", err)}
	}
	return ProbeRlimit{Soft: rl.Cur, Hard: rl.Max}
}
