//go:build linux

package epoll

import (
	"math"
	"testing"
	"time"

	"github.com/ringline-go/ringline/internal/backend"
)

// TestWaitMillisFitsEpollWait guards epoll_wait's C int timeout: a deadline
// 2^32 ms and more away must give at most MaxInt32 ms, never a value the
// kernel would truncate into a short or an unlimited wait.
func TestWaitMillisFitsEpollWait(t *testing.T) {
	be, err := New(backend.Config{Entries: 8, BufEntries: 2, BufSize: 64})
	if err != nil {
		t.Fatal(err)
	}
	defer be.Close()
	b := be.(*Backend)
	for _, far := range []time.Duration{time.Duration(1<<31) * time.Millisecond, time.Duration(1<<32+150) * time.Millisecond} {
		limit := monoNow() + far.Nanoseconds()
		if got := b.waitMillis(false, limit); got <= 0 || got > math.MaxInt32 {
			t.Errorf("waitMillis for a deadline %v away = %d, want 1 to %d", far, got, math.MaxInt32)
		}
	}
	if got := b.waitMillis(false, -1); got != -1 {
		t.Errorf("waitMillis with no limit and no timer = %d, want -1", got)
	}
}
