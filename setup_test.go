//go:build linux && cgo

package ringline

import (
	"errors"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// A setup the kernel refuses comes back as an *Error that keeps the errno and
// says what to do. Pinning the SQPOLL thread to a CPU that does not exist is
// a real EINVAL from io_uring_setup.
func TestSetupRefusedByKernel(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	r, err := NewRing(RingConfig{Entries: 4, SQPoll: true, PinSQPoll: true, SQPollCPU: 1 << 20})
	if err == nil {
		r.Close()
		t.Fatal("SQPOLL pinned to CPU 1<<20 was accepted")
	}
	var e *Error
	if !errors.As(err, &e) || e.Op != "io_uring_setup" || !errors.Is(err, syscall.EINVAL) || !strings.Contains(err.Error(), "6.1") {
		t.Fatalf("error %v: want an io_uring_setup EINVAL naming the kernel needed", err)
	}
}

// Each errno io_uring_setup gives has a hint saying what happened and what to do.
func TestSetupErrorHints(t *testing.T) {
	for _, c := range []struct {
		errno syscall.Errno
		want  string
	}{
		{syscall.EPERM, "io_uring"},
		{syscall.ENOSYS, "6.1"},
		{syscall.EINVAL, "DEFER_TASKRUN"},
		{syscall.ENOMEM, "RLIMIT_MEMLOCK"},
		{syscall.EMFILE, "RLIMIT_NOFILE"},
	} {
		err := setupError(-int(c.errno), RingConfig{Entries: 8})
		if !errors.Is(err, c.errno) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want errors.Is and a hint mentioning %q", c.errno, err, c.want)
		}
	}
	if h := permHint(); !strings.Contains(h, "seccomp") && !strings.Contains(h, "io_uring_disabled") {
		t.Errorf("EPERM hint %q names neither seccomp nor the sysctl", h)
	}
}

// Flush, and SubmitAndWait(0) likewise, enter with IORING_ENTER_GETEVENTS, so
// a completion the kernel deferred as task work (DEFER_TASKRUN) is returned
// at once, without waiting.
func TestFlushRunsDeferredTaskWork(t *testing.T) {
	for name, poll := range map[string]func(*Ring) ([]Completion, error){
		"Flush":            (*Ring).Flush,
		"SubmitAndWait(0)": func(r *Ring) ([]Completion, error) { return r.SubmitAndWait(0) },
	} {
		t.Run(name, func(t *testing.T) {
			r, _, client := ringConn(t, unix.AF_INET, 4, 4096)
			br, err := r.RegisterBufRing(1, 4, 64)
			must(t, err)
			must(t, r.SubmitMultishotRecv(0, br.Group()))
			must(t, r.Submit()) // armed: it waits for data
			_, err = unix.Write(client, []byte("ping"))
			must(t, err)
			var cqes []Completion
			// The data's arrival is asynchronous and poll never waits: call it until
			// the completion shows, for at most five seconds.
			for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); runtime.Gosched() {
				if cqes, err = poll(r); err != nil || len(cqes) > 0 {
					break
				}
			}
			must(t, err)
			if len(cqes) != 1 || cqes[0].Res != 4 {
				t.Fatalf("%s returned %+v, want the 4-byte receive", name, cqes)
			}
		})
	}
}
