//go:build linux

package rio

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// ProbeReport is the runtime's view of this machine: which backend
// Config.Backend auto takes here and why, and the resource limits that
// bound a server. (What the kernel's io_uring offers is the binding's
// ringline.Probe.) Its JSON field names are stable.
type ProbeReport struct {
	// NOFILE is RLIMIT_NOFILE: a server needs a descriptor per connection.
	NOFILE Rlimit `json:"nofile"`
	// MEMLOCK is RLIMIT_MEMLOCK, the locked-memory limit io_uring charges
	// rings and registered memory to.
	MEMLOCK Rlimit `json:"memlock"`
	// AutoBackend is the backend Config.Backend auto takes here (the same
	// selection a server makes): "io_uring" when this binary has the
	// binding and the runtime's ring can be set up, else "epoll".
	AutoBackend string `json:"auto_backend"`
	// AutoReason says why.
	AutoReason string `json:"auto_reason"`
}

// Rlimit is a resource limit; unix.RLIM_INFINITY (the largest uint64) means
// unlimited.
type Rlimit struct {
	Soft  uint64 `json:"soft"`
	Hard  uint64 `json:"hard"`
	Error string `json:"error,omitempty"` // getrlimit's error, if it failed
}

// Probe reports the runtime's choice on this machine (see ProbeReport). It
// sets up and closes a small ring, as a server with the default Config
// would, and leaves nothing open behind it.
func Probe() ProbeReport {
	rep := ProbeReport{
		NOFILE:  getRlimit(unix.RLIMIT_NOFILE),
		MEMLOCK: getRlimit(unix.RLIMIT_MEMLOCK),
	}
	rep.AutoBackend, _, rep.AutoReason, _ = selectBackend(Config{}.withDefaults())
	return rep
}

func getRlimit(resource int) Rlimit {
	var rl unix.Rlimit
	if err := unix.Getrlimit(resource, &rl); err != nil {
		return Rlimit{Error: fmt.Sprintf("getrlimit: %v", err)}
	}
	return Rlimit{Soft: rl.Cur, Hard: rl.Max}
}
