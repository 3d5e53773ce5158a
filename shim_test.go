//go:build linux && cgo

package ringline

import (
	"errors"
	"syscall"
	"testing"
	"time"
)

// enterAll submits what is queued and collects n completions, as reap does,
// but keeps the first error instead of failing on it: the calls under test
// here return real completions together with an error.
func enterAll(t *testing.T, r *Ring, n int) ([]Completion, error) {
	t.Helper()
	var got []Completion
	var first error
	for deadline := time.Now().Add(5 * time.Second); len(got) < n && time.Now().Before(deadline); {
		cqes, err := r.SubmitAndWaitTimeout(n-len(got), 100*time.Millisecond)
		got = append(got, cqes...)
		if first == nil {
			first = err
		}
	}
	if len(got) != n {
		t.Fatalf("got %d completions, want %d: %+v (error %v)", len(got), n, got, first)
	}
	return got, first
}

// wantBadKindError fails unless err reports refused descriptors of unknown
// kind as an EINVAL *Error.
func wantBadKindError(t *testing.T, err error) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) || e.Op != "prep" || !errors.Is(err, syscall.EINVAL) {
		t.Fatalf("error %v: want the prep EINVAL reporting a descriptor of unknown kind", err)
	}
}

// A descriptor of no known kind (0, RL_KIND_COUNT, 255) completes with
// -EINVAL under its own user_data, and the call that submitted it returns an
// error and counts it. It guards against the SQE being left as it was: liburing
// 2.3 does not clear a reused SQE, so the kernel would run the slot's previous
// operation (here a NOP injecting 7) again under the new user_data. With one
// SQ entry every descriptor reuses the same SQE slot. SQE flags that would
// change the NOP's answer (BUFFER_SELECT, FIXED_FILE) are dropped.
func TestShimUnknownKindNeverRerunsSlot(t *testing.T) {
	r := newRing(t, RingConfig{Entries: 1})
	requireNopInject(t, r)
	for i, c := range []struct{ kind, sqeFlags uint8 }{
		{0, 0},
		{kindCount, 0},
		{255, 0},
		{kindCount, sqeBufferSelect},
		{255, sqeFixedFile},
	} {
		prev, bad := ud(t, TagNop, uint32(i), 1), ud(t, TagNop, uint32(i), 2)
		must(t, r.SubmitNopInject(prev, 7))
		wantRes(t, reapOne(t, r), prev, 7)
		_, err := r.push(c.kind, bad, c.sqeFlags)
		must(t, err)
		got, err := enterAll(t, r, 1)
		wantRes(t, got[0], bad, -int32(syscall.EINVAL))
		wantBadKindError(t, err)
		if s := r.Stats(); s.BadKinds != uint64(i+1) {
			t.Fatalf("kind %d: BadKinds = %d, want %d", c.kind, s.BadKinds, i+1)
		}
	}
}

// A descriptor of unknown kind inside a linked chain keeps its place in the
// chain: its -EINVAL cancels the members after it, as any failed member does.
func TestShimUnknownKindBreaksChain(t *testing.T) {
	r := newRing(t, RingConfig{Entries: 4})
	requireNopInject(t, r)
	bad, next := ud(t, TagNop, 1, 0), ud(t, TagNop, 2, 0)
	must(t, r.Link(2))
	_, err := r.push(kindCount, bad, 0)
	must(t, err)
	must(t, r.SubmitNop(next))
	got, err := enterAll(t, r, 2)
	wantBadKindError(t, err)
	wantRes(t, got[0], bad, -int32(syscall.EINVAL))
	wantRes(t, got[1], next, -int32(syscall.ECANCELED))
}

// Each wait decision Go makes reaches the liburing call it names. (Flush and
// SubmitAndWait(0), io_uring_submit_and_get_events, are checked by
// TestFlushRunsDeferredTaskWork; SubmitAndWaitTimeout returning completions
// by every test that reaps.)
func TestShimWaitCalls(t *testing.T) {
	// Submit (io_uring_submit) submits but copies no completion out.
	t.Run("Submit", func(t *testing.T) {
		r := newRing(t, RingConfig{Entries: 4})
		u := ud(t, TagNop, 1, 0)
		must(t, r.SubmitNop(u))
		must(t, r.Submit())
		if s := r.Stats(); r.Pending() != 0 || s.Submitted != 1 || s.Completions != 0 {
			t.Fatalf("after Submit: pending %d, stats %+v; want 0 pending, 1 submitted, 0 completions", r.Pending(), s)
		}
		wantRes(t, reapOne(t, r), u, 0)
	})
	// SubmitAndWait(n > 0) (io_uring_submit_and_wait) blocks until the
	// completion: a timeout armed for 20ms comes back in one call, or a few
	// if a signal ends the wait early, where a call that did not wait would
	// spin.
	t.Run("SubmitAndWait", func(t *testing.T) {
		r, a := newRingArena(t, RingConfig{Entries: 4}, 4096)
		ts, err := a.Timespec(20 * time.Millisecond)
		must(t, err)
		u := ud(t, TagTimer, 1, 0)
		must(t, r.SubmitTimeout(ts, u))
		var got []Completion
		calls := 0
		for ; len(got) == 0 && calls < 5; calls++ {
			cqes, err := r.SubmitAndWait(1)
			must(t, err)
			got = append(got, cqes...)
		}
		if len(got) != 1 {
			t.Fatalf("%d calls of SubmitAndWait(1) returned %+v: want the timeout's completion", calls, got)
		}
		wantRes(t, got[0], u, -int32(syscall.ETIME))
	})
	// SubmitAndWaitTimeout(n > 0, d) (io_uring_submit_and_wait_timeout)
	// waits about d for a completion that never comes, and that is not an error.
	t.Run("SubmitAndWaitTimeout", func(t *testing.T) {
		r := newRing(t, RingConfig{Entries: 4})
		const d = 30 * time.Millisecond
		start := time.Now()
		cqes, err := r.SubmitAndWaitTimeout(1, d)
		if took := time.Since(start); err != nil || len(cqes) != 0 || took < d/2 {
			t.Fatalf("SubmitAndWaitTimeout(1, %v) with nothing in flight: %+v, %v after %v; want nothing, no error, after about %v", d, cqes, err, took, d)
		}
	})
	// SubmitAndWaitTimeout(0, d) waits for nothing, as Flush.
	t.Run("SubmitAndWaitTimeout(0)", func(t *testing.T) {
		r := newRing(t, RingConfig{Entries: 4})
		start := time.Now()
		cqes, err := r.SubmitAndWaitTimeout(0, time.Hour)
		if took := time.Since(start); err != nil || len(cqes) != 0 || took > time.Second {
			t.Fatalf("SubmitAndWaitTimeout(0, 1h): %+v, %v after %v; want an immediate return", cqes, err, took)
		}
	})
}

// The C side makes only the call Go names: any other value is refused with
// EINVAL rather than mapped to a default.
func TestShimUnknownCallRefused(t *testing.T) {
	r := newRing(t, RingConfig{Entries: 4})
	for _, call := range []uint32{0, callWaitTimeout + 1} {
		if _, err := r.enter(call, 0, 0, true); !errors.Is(err, syscall.EINVAL) {
			t.Fatalf("enter with call %d: %v, want EINVAL", call, err)
		}
	}
}

// Close cancels what is in flight with the flags Go passes down
// (IORING_ASYNC_CANCEL_ANY) and waits: a kernel refusing them would make
// Close fail.
func TestShimCloseCancelsInFlight(t *testing.T) {
	r, a := newRingArena(t, RingConfig{Entries: 4}, 4096)
	ts, err := a.Timespec(time.Hour)
	must(t, err)
	must(t, r.SubmitTimeout(ts, ud(t, TagTimer, 1, 0)))
	must(t, r.Submit())
	must(t, r.Close())
}
