//go:build linux && cgo

package ringline

import (
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// A relative timeout fires with -ETIME; the tick timeout carries its own tag.
func TestTimeoutFires(t *testing.T) {
	r, a := newRingArena(t, RingConfig{Entries: 4}, 4096)
	ts, err := a.Timespec(5 * time.Millisecond)
	must(t, err)
	u := ud(t, TagTimer, 3, 9)
	must(t, r.SubmitTimeout(ts, u))
	wantRes(t, reapOne(t, r), u, -int32(syscall.ETIME))
	must(t, r.SubmitTickTimeout(ts))
	wantRes(t, reapOne(t, r), ud(t, TagTickTimeout, 0, 0), -int32(syscall.ETIME))
}

// An absolute CLOCK_MONOTONIC timeout fires at its deadline, not later than a
// relative one armed for after it.
func TestTimeoutAbsFiresInDeadlineOrder(t *testing.T) {
	r, a := newRingArena(t, RingConfig{Entries: 4}, 4096)
	var now unix.Timespec
	must(t, unix.ClockGettime(unix.CLOCK_MONOTONIC, &now))
	abs, err := a.Timespec(time.Duration(now.Nano()) + 10*time.Millisecond)
	must(t, err)
	rel, err := a.Timespec(200 * time.Millisecond)
	must(t, err)
	late, early := ud(t, TagTimer, 1, 0), ud(t, TagTimer, 2, 0)
	must(t, r.SubmitTimeout(rel, late))
	must(t, r.SubmitTimeoutAbs(abs, early))
	got := reap(t, r, 2)
	wantRes(t, got[0], early, -int32(syscall.ETIME))
	wantRes(t, got[1], late, -int32(syscall.ETIME))
}

// Cancelling a pending timeout by its user_data completes it with
// -ECANCELED; the cancel itself succeeds, and a second cancel finds nothing.
func TestAsyncCancelTimeout(t *testing.T) {
	r, a := newRingArena(t, RingConfig{Entries: 4}, 4096)
	ts, err := a.Timespec(time.Hour)
	must(t, err)
	target := ud(t, TagTimer, 4, 1)
	must(t, r.SubmitTimeout(ts, target))
	must(t, r.SubmitAsyncCancel(target, 4))
	got := reap(t, r, 2)
	if got[0].UserData != target {
		got[0], got[1] = got[1], got[0]
	}
	wantRes(t, got[0], target, -int32(syscall.ECANCELED))
	wantRes(t, got[1], ud(t, TagCancel, 4, 0), 0)
	must(t, r.SubmitAsyncCancel(target, 4))
	wantRes(t, reapOne(t, r), ud(t, TagCancel, 4, 0), -int32(syscall.ENOENT))
}
