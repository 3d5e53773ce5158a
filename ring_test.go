//go:build linux && cgo

package ringline

import (
	"errors"
	"net"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestNewRingSetup(t *testing.T) {
	r := newRing(t, RingConfig{Entries: 64})
	want := uint32(setupSQE128 | setupCQE32 | setupCQSize | setupSingleIssuer | setupCoopTaskrun | setupDeferTaskrun)
	if got := r.SetupFlags(); got&want != want || got&setupSQPoll != 0 {
		t.Errorf("setup flags %#x, want %#x without SQPOLL", got, want)
	}
	if r.Entries() != 64 || r.CQEntries() != 256 {
		t.Errorf("entries SQ %d CQ %d, want 64 and 256", r.Entries(), r.CQEntries())
	}
}

func TestRingConfigValidate(t *testing.T) {
	for _, cfg := range []RingConfig{
		{Entries: 3},
		{Entries: 1 << 15},
		{SQPollIdle: time.Second},
		{PinSQPoll: true},
		{SQPoll: true, SQPollIdle: -time.Millisecond},
	} {
		err := cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), "RingConfig.") {
			t.Errorf("Validate(%+v) = %v, want an error naming the field", cfg, err)
		}
		if _, err := NewRing(cfg); err == nil {
			t.Errorf("NewRing(%+v) succeeded", cfg)
		}
	}
	if err := (RingConfig{}).Validate(); err != nil {
		t.Errorf("zero RingConfig: %v", err)
	}
}

func TestSQPollRing(t *testing.T) {
	r := newRing(t, RingConfig{Entries: 8, SQPoll: true, SQPollIdle: 10 * time.Millisecond})
	if f := r.SetupFlags(); f&setupSQPoll == 0 || f&(setupDeferTaskrun|setupCoopTaskrun) != 0 {
		t.Fatalf("setup flags %#x: want SQPOLL without DEFER_TASKRUN/COOP_TASKRUN", f)
	}
	u := ud(t, TagNop, 1, 2)
	must(t, r.SubmitNop(u))
	wantRes(t, reapOne(t, r), u, 0)
	// A burst larger than the SQ: each full batch wakes the polling thread
	// and waits for it to make room, so nothing is refused.
	for i := range 64 {
		must(t, r.SubmitNop(ud(t, TagNop, uint32(i), 0)))
	}
	reap(t, r, 64)
	if s := r.Stats(); s.SQFull != 0 {
		t.Fatalf("SQFull = %d after a burst on an SQPOLL ring", s.SQFull)
	}
}

// Error paths reach the caller through the real reaping path: a NOP with an
// injected result comes back exactly as a failed operation would.
func TestNopInject(t *testing.T) {
	r := newRing(t, RingConfig{Entries: 8})
	requireNopInject(t, r)
	results := []int32{0, 12345, -int32(syscall.ECONNRESET), -int32(syscall.ENOBUFS)}
	for i, res := range results {
		must(t, r.SubmitNopInject(ud(t, TagSend, uint32(i), 77), res))
	}
	got := reap(t, r, len(results))
	for i, c := range got {
		wantRes(t, c, ud(t, TagSend, uint32(i), 77), results[i])
	}
	if err := got[2].Err(); !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("Err() = %v, want ECONNRESET", err)
	}
	if got[1].Err() != nil {
		t.Errorf("positive result gave error %v", got[1].Err())
	}
}

func TestNopInjectLinkedCancelsNext(t *testing.T) {
	r := newRing(t, RingConfig{Entries: 8})
	requireNopInject(t, r)
	first, second := ud(t, TagNop, 1, 0), ud(t, TagNop, 2, 0)
	must(t, r.SubmitNopInjectLinked(first, -int32(syscall.EIO)))
	must(t, r.SubmitNop(second))
	got := reap(t, r, 2)
	wantRes(t, got[0], first, -int32(syscall.EIO))
	wantRes(t, got[1], second, -int32(syscall.ECANCELED))
}

// A chain larger than the free SQ space is refused whole and nothing queued
// before it is lost.
func TestChainRefusedWhole(t *testing.T) {
	r := newRing(t, RingConfig{Entries: 8})
	for i := range 3 {
		must(t, r.SubmitNop(ud(t, TagNop, uint32(i), 0)))
	}
	err := r.Link(9)
	if !errors.Is(err, ErrChainTooLarge) {
		t.Fatalf("Link(9) on an 8-entry ring: %v, want ErrChainTooLarge", err)
	}
	if r.Stats().ChainsRefused != 1 {
		t.Errorf("ChainsRefused = %d, want 1", r.Stats().ChainsRefused)
	}
	// Link submitted the 3 NOPs to make room; they still complete.
	got := reap(t, r, 3)
	for i, c := range got {
		wantRes(t, c, ud(t, TagNop, uint32(i), 0), 0)
	}
}

// A chain that does not fit beside queued work flushes that work first and
// is then placed whole, really linked: when its head fails, the kernel
// cancels every later member.
func TestChainAfterSubmitIsLinked(t *testing.T) {
	r := newRing(t, RingConfig{Entries: 8})
	requireNopInject(t, r)
	for i := range 6 {
		must(t, r.SubmitNop(ud(t, TagNop, uint32(i), 0)))
	}
	must(t, r.Link(4))
	if r.Pending() != 0 {
		t.Fatalf("pending %d after Link had to make room, want 0", r.Pending())
	}
	must(t, r.SubmitNopInject(ud(t, TagNop, 100, 0), -int32(syscall.EIO)))
	for i := range 3 {
		must(t, r.SubmitNop(ud(t, TagNop, 101+uint32(i), 0)))
	}
	got := reap(t, r, 10)
	var chain []Completion
	for _, c := range got {
		if c.UserData.Index() >= 100 {
			chain = append(chain, c)
		}
	}
	wantRes(t, chain[0], ud(t, TagNop, 100, 0), -int32(syscall.EIO))
	for i, c := range chain[1:] {
		wantRes(t, c, ud(t, TagNop, 101+uint32(i), 0), -int32(syscall.ECANCELED))
	}
}

// A chain that fits the ring but not the space the kernel leaves free is
// refused whole. The kernel keeps the SQ full here because the queued work
// was submitted from a thread other than the ring's (SINGLE_ISSUER: EEXIST).
func TestChainLargerThanFreeSpace(t *testing.T) {
	r := newRing(t, RingConfig{Entries: 8})
	nops := make([]UserData, 5)
	for i := range nops {
		nops[i] = ud(t, TagNop, uint32(i), 0)
		must(t, r.SubmitNop(nops[i]))
	}
	linkErr := make(chan error)
	go func() {
		runtime.LockOSThread() // a thread that is surely not the ring's
		defer runtime.UnlockOSThread()
		r.Flush() // the 5 SQEs stay in the SQ: the kernel answers EEXIST
		linkErr <- r.Link(4)
	}()
	if err := <-linkErr; !errors.Is(err, ErrChainTooLarge) || !errors.Is(err, syscall.EEXIST) {
		t.Fatalf("Link(4) with 3 of 8 entries free: %v, want ErrChainTooLarge wrapping EEXIST", err)
	}
	if r.Pending() != 0 || r.Stats().ChainsRefused != 1 {
		t.Fatalf("pending %d, ChainsRefused %d; want 0 and 1", r.Pending(), r.Stats().ChainsRefused)
	}
	for i, c := range reap(t, r, 5) { // back on the ring's thread, nothing was lost
		wantRes(t, c, nops[i], 0)
	}
}

// The *Linked helpers open a chain of two, so their link cannot dangle: a
// submit between the two calls is refused, and so is a *Linked helper inside
// an open chain (which drops that chain whole).
func TestLinkedHelpersNeverDangle(t *testing.T) {
	r := newRing(t, RingConfig{Entries: 8})
	requireNopInject(t, r)
	first, second := ud(t, TagNop, 1, 0), ud(t, TagNop, 2, 0)
	must(t, r.SubmitNopInjectLinked(first, -int32(syscall.EIO)))
	if _, err := r.Flush(); !errors.Is(err, ErrChainOpen) {
		t.Fatalf("Flush between a linked NOP and its successor: %v, want ErrChainOpen", err)
	}
	must(t, r.SubmitNop(second))
	got := reap(t, r, 2)
	wantRes(t, got[0], first, -int32(syscall.EIO))
	wantRes(t, got[1], second, -int32(syscall.ECANCELED))

	must(t, r.Link(3))
	must(t, r.SubmitNop(first))
	if err := r.SubmitNopInjectLinked(second, 0); !errors.Is(err, ErrChainOpen) {
		t.Fatalf("a linked helper inside Link(3): %v, want ErrChainOpen", err)
	}
	if r.Pending() != 0 {
		t.Fatalf("pending %d: the open chain was not dropped whole", r.Pending())
	}
}

// A NOP can fill the 16 extra bytes of a 32-byte completion, which reach
// Completion.Extra through the reaping path, as an NVMe result would.
func TestNopInjectExtra(t *testing.T) {
	r := newRing(t, RingConfig{Entries: 4})
	requireNopInject(t, r)
	u := ud(t, TagNvmeCmd, 3, 0)
	extra := [2]uint64{0x1122334455667788, 0x99aabbccddeeff00}
	must(t, r.SubmitNopInjectExtra(u, 0, extra))
	c := reapOne(t, r)
	if c.Res == -int32(syscall.EINVAL) {
		t.Skip("kernel lacks IORING_NOP_CQE32")
	}
	wantRes(t, c, u, 0)
	if c.Extra != extra {
		t.Fatalf("Extra %#x, want %#x", c.Extra, extra)
	}
	if res, err := NvmeResult(&c); err != nil || res != extra[0] {
		t.Fatalf("NvmeResult = %#x, %v; want %#x", res, err, extra[0])
	}
}

// A bad submission inside a chain drops the whole chain, never half of it.
func TestChainDroppedOnBadInput(t *testing.T) {
	r := newRing(t, RingConfig{Entries: 8})
	registerFds(t, r, 2)
	keep := ud(t, TagNop, 9, 0)
	must(t, r.SubmitNop(keep))
	must(t, r.Link(3))
	must(t, r.SubmitNop(ud(t, TagNop, 1, 0)))
	if err := r.SubmitClose(5); !errors.Is(err, ErrSlotRange) {
		t.Fatalf("SubmitClose(5) in a 2-slot table: %v, want ErrSlotRange", err)
	}
	if r.Pending() != 1 {
		t.Fatalf("pending %d, want only the NOP queued before the chain", r.Pending())
	}
	must(t, r.SubmitNop(ud(t, TagNop, 2, 0))) // no longer linked
	got := reap(t, r, 2)
	wantRes(t, got[0], keep, 0)
}

func TestEnterWithOpenChainRefused(t *testing.T) {
	r := newRing(t, RingConfig{Entries: 8})
	must(t, r.Link(2))
	must(t, r.SubmitNop(ud(t, TagNop, 1, 0)))
	if _, err := r.Flush(); !errors.Is(err, ErrChainOpen) {
		t.Fatalf("Flush with an open chain: %v, want ErrChainOpen", err)
	}
	if err := r.Link(1); !errors.Is(err, ErrChainOpen) {
		t.Fatalf("Link inside a chain: %v, want ErrChainOpen", err)
	}
	must(t, r.SubmitNop(ud(t, TagNop, 2, 0)))
	reap(t, r, 2)
}

// A batch bigger than the SQ is submitted in pieces as it fills: nothing is
// refused or lost, and completions beyond MaxCompletions wait for the next call.
func TestBatchLargerThanSQ(t *testing.T) {
	r := newRing(t, RingConfig{Entries: 4, MaxCompletions: 3})
	for i := range 10 {
		must(t, r.SubmitNop(ud(t, TagNop, uint32(i), 0)))
	}
	got := reap(t, r, 10)
	seen := map[uint32]bool{}
	for _, c := range got {
		seen[c.UserData.Index()] = true
	}
	if len(seen) != 10 {
		t.Fatalf("completions for %d distinct NOPs, want 10", len(seen))
	}
	if s := r.Stats(); s.Submitted != 10 || s.Completions != 10 || s.SQFull != 0 {
		t.Errorf("stats %+v", s)
	}
}

// When the kernel refuses to take the batch, a submission into a full SQ is
// refused with ErrSQFull and counted, and the queued work is kept (in the
// SQ, where the ring's own thread submits it later). Here the
// kernel refuses because the call comes from a thread other than the ring's
// (IORING_SETUP_SINGLE_ISSUER answers EEXIST).
func TestSQFullRefusedAndCounted(t *testing.T) {
	r := newRing(t, RingConfig{Entries: 4})
	for i := range 4 {
		must(t, r.SubmitNop(ud(t, TagNop, uint32(i), 0)))
	}
	fifth := ud(t, TagNop, 4, 0)
	errs := make(chan [2]error)
	go func() {
		runtime.LockOSThread() // a thread that is surely not the ring's
		defer runtime.UnlockOSThread()
		_, enterErr := r.Flush()
		errs <- [2]error{r.SubmitNop(fifth), enterErr}
	}()
	e := <-errs
	if !errors.Is(e[0], ErrSQFull) || !errors.Is(e[0], syscall.EEXIST) {
		t.Fatalf("SubmitNop into a full SQ the kernel will not take: %v, want ErrSQFull wrapping EEXIST", e[0])
	}
	if !errors.Is(e[1], syscall.EEXIST) || !strings.Contains(e[1].Error(), "LockOSThread") {
		t.Errorf("enter from a foreign thread: %v, want EEXIST with a hint", e[1])
	}
	if s := r.Stats(); s.SQFull != 1 {
		t.Errorf("SQFull %d, want 1", s.SQFull)
	}
	got := reap(t, r, 4)
	for i, c := range got {
		wantRes(t, c, ud(t, TagNop, uint32(i), 0), 0)
	}
}

func TestClosedRing(t *testing.T) {
	r := newRing(t, RingConfig{Entries: 2})
	must(t, r.Close())
	must(t, r.Close())
	if err := r.SubmitNop(ud(t, TagNop, 0, 0)); !errors.Is(err, ErrRingClosed) || !errors.Is(err, net.ErrClosed) {
		t.Errorf("SubmitNop after Close: %v, want ErrRingClosed and net.ErrClosed", err)
	}
	if _, err := r.Flush(); !errors.Is(err, ErrRingClosed) {
		t.Errorf("Flush after Close: %v", err)
	}
}
