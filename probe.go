//go:build linux

package ringline

import (
	"fmt"
	"runtime"

	"golang.org/x/sys/unix"
)

// ProbeReport is what Probe found out about this kernel and this build: can
// a Ring be set up here, and which of the kernel features the binding's
// helpers use are there. (The runtime's own choice of backend, and the
// limits that bound a server, are reported by its package.) Its JSON field
// names are stable.
type ProbeReport struct {
	// Kernel is the kernel release (uname -r).
	Kernel string `json:"kernel"`
	// IOUring reports whether a ring with NewRing's setup flags can be set
	// up here.
	IOUring bool `json:"io_uring"`
	// IOUringError says why not, with what to do about it (sysctl, seccomp,
	// memlock, kernel too old); empty when IOUring is true.
	IOUringError string `json:"io_uring_error"`
	// Features lists each kernel feature the binding uses,
	// with how it was checked; empty when the binary has no io_uring binding.
	Features []ProbeFeature `json:"features"`
	// Liburing is the liburing version the binary was built against.
	Liburing string `json:"liburing"`
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

// Probe reports what this kernel and this build support (see ProbeReport).
// It sets up, uses and closes a few small rings, sockets and buffer rings on
// an OS thread of its own, and leaves nothing open behind it.
func Probe() ProbeReport {
	rep := ProbeReport{
		Kernel: kernelRelease(),
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
	return rep
}

func kernelRelease() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return fmt.Sprintf("unknown (uname: %v)", err)
	}
	return unix.ByteSliceToString(u.Release[:])
}
