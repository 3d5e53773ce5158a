// Package gcchurn keeps the garbage collector running for tests of memory
// lent to the kernel: with a collection always under way, the write barrier
// is on and freed spans are reused at once, so a Go pointer the runtime
// mishandles (stored where the collector does not look, or reached after
// it was freed) makes the runtime throw instead of passing unnoticed.
package gcchurn

import (
	"runtime"
	"testing"
)

// Start runs runtime.GC back to back on a goroutine of its own until the
// test ends.
func Start(t testing.TB) {
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
				runtime.GC()
			}
		}
	}()
	t.Cleanup(func() {
		close(stop)
		<-done
	})
}
