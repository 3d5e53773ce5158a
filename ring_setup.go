//go:build linux && cgo

package ringline

import (
	"fmt"
	"os"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// setupError explains a failed io_uring_setup: what happened and what to do.
func setupError(ret int, cfg RingConfig) error {
	errno := syscall.Errno(-ret)
	var hint string
	switch errno {
	case syscall.EPERM:
		hint = permHint()
	case syscall.ENOSYS:
		hint = "this kernel has no io_uring (built without CONFIG_IO_URING, or older than 5.1); ringline needs Linux 6.1 or newer"
	case syscall.EINVAL:
		hint = fmt.Sprintf("the kernel rejected setup flags %#x or %d entries; ringline needs Linux 6.1+ (SQE128/CQE32 5.19, SINGLE_ISSUER 6.0, DEFER_TASKRUN 6.1)", cfg.setupFlags(), cfg.Entries)
	case syscall.ENOMEM:
		hint = memlockHint()
	case syscall.EMFILE, syscall.ENFILE:
		hint = "out of file descriptors; raise RLIMIT_NOFILE (ulimit -n)"
	}
	return &Error{Op: "io_uring_setup", Errno: errno, Hint: hint}
}

func permHint() string {
	if b, err := os.ReadFile("/proc/sys/kernel/io_uring_disabled"); err == nil {
		switch v := strings.TrimSpace(string(b)); v {
		case "2":
			return "io_uring is disabled by sysctl kernel.io_uring_disabled=2; set it to 0 (or 1 and join the io_uring group)"
		case "1":
			return "sysctl kernel.io_uring_disabled=1 allows io_uring only to CAP_SYS_ADMIN and the kernel.io_uring_group; set it to 0 or join that group"
		}
	}
	return "io_uring_setup is blocked, most likely by a seccomp profile such as Docker's default: run with --security-opt seccomp=unconfined or a profile that allows io_uring_setup, io_uring_enter and io_uring_register"
}

func memlockHint() string {
	var rl unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_MEMLOCK, &rl) != nil {
		return "out of memory for the ring; raise the locked-memory limit (ulimit -l)"
	}
	return fmt.Sprintf("out of memory for the ring, or over the locked-memory limit (RLIMIT_MEMLOCK %d bytes); use fewer entries or raise ulimit -l", rl.Cur)
}

// enterError keeps the errors that matter from io_uring_enter: a timeout or an
// interrupted wait is not an error for the caller.
func enterError(ret int) error {
	switch errno := syscall.Errno(-ret); {
	case ret >= 0, errno == syscall.ETIME, errno == syscall.EINTR:
		return nil
	case errno == syscall.EEXIST:
		return &Error{Op: "io_uring_enter", Errno: errno, Hint: "the ring was used from a thread other than its creator's (IORING_SETUP_SINGLE_ISSUER); call runtime.LockOSThread before NewRing and use the ring only from that goroutine"}
	case errno == syscall.EBUSY, errno == syscall.EAGAIN:
		return &Error{Op: "io_uring_enter", Errno: errno, Hint: "the completion queue is backed up; reap completions before submitting more"}
	default:
		return &Error{Op: "io_uring_enter", Errno: errno}
	}
}

func slotError(table string, slot, size uint32) error {
	return fmt.Errorf("%w: %s slot %d, table has %d", ErrSlotRange, table, slot, size)
}

// errnoError turns a negative errno return (liburing's convention) into an
// *Error naming op; a non-negative ret is not an error.
func errnoError(op string, ret int, hint string) error {
	if ret >= 0 {
		return nil
	}
	return &Error{Op: op, Errno: syscall.Errno(-ret), Hint: hint}
}
