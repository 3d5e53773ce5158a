//go:build linux

package rio

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestMain fails the run if any test leaves an io_uring descriptor or
// mapping, another descriptor, or a goroutine behind.
func TestMain(m *testing.M) {
	r, w, _ := os.Pipe() // start Go's netpoller now, so its descriptors are in the baseline
	r.Close()
	w.Close()
	fdsBefore := countFds()
	goBefore := runtime.NumGoroutine()
	code := m.Run()
	if code == 0 && !fuzzing() {
		if msg := leaks(fdsBefore, goBefore); msg != "" {
			fmt.Fprintln(os.Stderr, "leak check:", msg)
			code = 1
		}
	}
	os.Exit(code)
}

// fuzzing reports a -fuzz run, whose workers outlive the tests.
func fuzzing() bool {
	f := flag.Lookup("test.fuzz")
	return f != nil && f.Value.String() != ""
}

func leaks(fdsBefore, goBefore int) string {
	var msg []string
	for range 50 { // goroutines and deferred closes settle briefly
		msg = msg[:0]
		if n := countFds(); n != fdsBefore {
			msg = append(msg, fmt.Sprintf("%d descriptors open, %d before", n, fdsBefore))
		}
		if n := runtime.NumGoroutine(); n > goBefore {
			msg = append(msg, fmt.Sprintf("%d goroutines, %d before", n, goBefore))
		}
		if fds, maps := uringResources(); fds+maps > 0 {
			msg = append(msg, fmt.Sprintf("%d io_uring descriptors and %d mappings left", fds, maps))
		}
		if len(msg) == 0 {
			return ""
		}
		time.Sleep(20 * time.Millisecond)
	}
	return strings.Join(msg, "; ")
}

func countFds() int {
	ents, _ := os.ReadDir("/proc/self/fd")
	return len(ents) - 1 // less the descriptor ReadDir itself used
}

// uringResources counts this process's io_uring descriptors and mappings.
func uringResources() (fds, maps int) {
	ents, _ := os.ReadDir("/proc/self/fd")
	for _, e := range ents {
		if l, err := os.Readlink("/proc/self/fd/" + e.Name()); err == nil && strings.Contains(l, "io_uring") {
			fds++
		}
	}
	b, _ := os.ReadFile("/proc/self/maps")
	maps = strings.Count(string(b), "io_uring")
	return fds, maps
}
