//go:build linux

// Package leakcheck backs the TestMain of every package that starts rings,
// engines or servers: a run passes only if its tests left no descriptor,
// goroutine, io_uring descriptor or io_uring mapping behind.
package leakcheck

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Run runs the tests and returns their exit code, made 1 when they passed
// but left a descriptor, a goroutine or an io_uring resource behind. (A
// -fuzz run is not checked: its workers outlive the tests.)
func Run(m *testing.M) int {
	r, w, _ := os.Pipe() // start Go's netpoller now, so its descriptors are in the baseline
	r.Close()
	w.Close()
	fdsBefore := Fds()
	goBefore := runtime.NumGoroutine()
	code := m.Run()
	if code == 0 && !fuzzing() {
		if msg := leaks(fdsBefore, goBefore); msg != "" {
			fmt.Fprintln(os.Stderr, "leak check:", msg)
			code = 1
		}
	}
	return code
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
		if n := Fds(); n != fdsBefore {
			msg = append(msg, fmt.Sprintf("%d descriptors open, %d before", n, fdsBefore))
		}
		if n := runtime.NumGoroutine(); n > goBefore {
			msg = append(msg, fmt.Sprintf("%d goroutines, %d before", n, goBefore))
		}
		if fds, maps := IOURing(); fds+maps > 0 {
			msg = append(msg, fmt.Sprintf("%d io_uring descriptors and %d mappings left", fds, maps))
		}
		if len(msg) == 0 {
			return ""
		}
		time.Sleep(20 * time.Millisecond)
	}
	return strings.Join(msg, "; ")
}

// Fds counts the descriptors this process has open.
func Fds() int {
	ents, _ := os.ReadDir("/proc/self/fd")
	return len(ents) - 1 // less the descriptor ReadDir itself used
}

// IOURing counts this process's io_uring descriptors and mappings.
func IOURing() (fds, maps int) {
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
