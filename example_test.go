//go:build linux && cgo

package ringline_test

import (
	"fmt"
	"log"
	"runtime"
	"time"

	"github.com/ringline-go/ringline"
)

// A Ring used directly: queue a timer and a NOP, submit both and wait for
// their completions in one call.
func ExampleRing() {
	runtime.LockOSThread() // the ring belongs to this thread (SINGLE_ISSUER)
	defer runtime.UnlockOSThread()

	ring, err := ringline.NewRing(ringline.RingConfig{Entries: 64})
	if err != nil {
		log.Fatal(err) // the error says why: sysctl, seccomp, kernel, memlock
	}
	defer ring.Close()
	arena, err := ringline.NewArena(4096) // memory the kernel may read after Submit returns
	if err != nil {
		log.Fatal(err)
	}
	defer arena.Close()

	ts, _ := arena.Timespec(10 * time.Millisecond)
	timer, _ := ringline.NewUserData(ringline.TagTimer, 1, 0)
	nop, _ := ringline.NewUserData(ringline.TagNop, 2, 0)
	if err := ring.SubmitTimeout(ts, timer); err != nil {
		log.Fatal(err)
	}
	if err := ring.SubmitNop(nop); err != nil {
		log.Fatal(err)
	}
	for seen := 0; seen < 2; {
		cqes, err := ring.SubmitAndWait(2 - seen)
		if err != nil {
			log.Fatal(err)
		}
		for _, c := range cqes {
			fmt.Println(c.UserData.Tag(), c.UserData.Index(), c.Err())
		}
		seen += len(cqes)
	}
	// Output:
	// nop 2 <nil>
	// timer 1 timer expired
}
