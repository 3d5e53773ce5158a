//go:build linux && cgo

package ringline

import (
	"runtime"
	"strconv"
	"testing"
)

// BenchmarkSubmitBatch measures submit-and-reap cost per NOP at several batch
// sizes. Each batch is one cgo crossing (reported as crossings/op), so the
// fixed cost of the crossing and the io_uring_enter is spread over the batch.
func BenchmarkSubmitBatch(b *testing.B) {
	for _, batch := range []int{1, 8, 32, 256} {
		b.Run(strconv.Itoa(batch), func(b *testing.B) {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			r, err := NewRing(RingConfig{Entries: 256})
			if err != nil {
				b.Fatal(err)
			}
			defer r.Close()
			u, _ := NewUserData(TagNop, 0, 0)
			b.ReportAllocs()
			b.ResetTimer()
			for done := 0; done < b.N; {
				n := min(batch, b.N-done)
				for range n {
					if err := r.SubmitNop(u); err != nil {
						b.Fatal(err)
					}
				}
				for got := 0; got < n; {
					cqes, err := r.SubmitAndWait(n - got)
					if err != nil {
						b.Fatal(err)
					}
					got += len(cqes)
				}
				done += n
			}
			b.StopTimer()
			b.ReportMetric(float64(r.Stats().Crossings)/float64(b.N), "crossings/op")
		})
	}
}
