//go:build linux && cgo

package uring

import (
	"errors"
	"os"
	"runtime"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ringline-go/ringline"
	"github.com/ringline-go/ringline/internal/backend"
	"github.com/ringline-go/ringline/internal/leakcheck"
	"github.com/ringline-go/ringline/internal/offheap"
)

// TestMain fails the run if a test leaves a ring, a mapping, a descriptor
// or a goroutine behind.
func TestMain(m *testing.M) { os.Exit(leakcheck.Run(m)) }

var testConfig = backend.Config{Entries: 8, BufEntries: 4, BufSize: 64}

// onEngine runs fn on a locked thread with a fresh engine (rings are
// single-issuer) and closes it; it skips where io_uring cannot run. fn runs
// off the test's goroutine, so it reports with t.Error, never t.Fatal or
// t.Skip.
func onEngine(t *testing.T, fn func(be backend.Backend)) {
	t.Helper()
	onEngineWith(t, testConfig, fn)
}

// onEngineWith is onEngine with an engine sized by cfg.
func onEngineWith(t *testing.T, cfg backend.Config, fn func(be backend.Backend)) {
	t.Helper()
	if err := Check(cfg); err != nil {
		t.Skipf("io_uring cannot run here: %v", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		be, err := New(cfg)
		if err != nil {
			t.Error(err)
			return
		}
		fn(be)
		if err := be.Close(); err != nil {
			t.Error(err)
		}
	}()
	<-done
}

// TestInjectThroughWait checks the engine's fault injection: an injected
// result comes back from Wait under its user_data, as the worker's dispatch
// would see a real completion. Where the kernel ignores the NOP's inject
// flag (before Linux 6.6) Inject must refuse rather than fake a 0 result,
// and it must not refuse where the binding's probe saw injection work.
func TestInjectThroughWait(t *testing.T) {
	var refused error
	onEngine(t, func(be backend.Backend) {
		const ud = 0x0500000700000009
		err := be.Inject(ud, -int32(syscall.ECONNRESET))
		if errors.Is(err, errors.ErrUnsupported) {
			refused = err
			return
		}
		if err != nil {
			t.Error(err)
			return
		}
		cqes, err := be.Wait(1, 5*time.Second)
		if err != nil || len(cqes) != 1 || cqes[0].UserData != ud || cqes[0].Res != -int32(syscall.ECONNRESET) {
			t.Errorf("Wait: %+v, %v; want one completion %#x with -ECONNRESET", cqes, err, uint64(ud))
		}
	})
	if refused == nil {
		return
	}
	for _, f := range ringline.Probe().Features {
		if f.Name == "NOP result injection" && f.Supported {
			t.Fatalf("Inject refused (%v), but the probe saw injection work: %s", refused, f.Detail)
		}
	}
	t.Skipf("this kernel cannot inject completions: %v", refused)
}

// TestTimeoutThroughWait checks an absolute timeout armed through the
// contract completes with -ETIME once its CLOCK_MONOTONIC deadline passes.
func TestTimeoutThroughWait(t *testing.T) {
	onEngine(t, func(be backend.Backend) {
		mem, err := offheap.New(64) // the kernel reads the deadline after Timeout returns
		if err != nil {
			t.Error(err)
			return
		}
		defer mem.Close()
		deadline, err := offheap.Object[unix.Timespec](mem)
		if err == nil {
			err = unix.ClockGettime(unix.CLOCK_MONOTONIC, deadline)
		}
		if err != nil {
			t.Error(err)
			return
		}
		*deadline = unix.NsecToTimespec(deadline.Nano() + int64(10*time.Millisecond))
		if err := be.Timeout(deadline, 42); err != nil {
			t.Error(err)
			return
		}
		cqes, err := be.Wait(1, 5*time.Second)
		if err != nil || len(cqes) != 1 || cqes[0].UserData != 42 || cqes[0].Res != -int32(syscall.ETIME) {
			t.Errorf("Wait: %+v, %v; want one completion 42 with -ETIME", cqes, err)
		}
	})
}
