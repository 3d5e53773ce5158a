//go:build linux

package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// clockTicks is USER_HZ, the unit of the CPU times in /proc/PID/stat:
// sysconf(_SC_CLK_TCK), which is 100 on every Linux architecture this
// command builds for (getconf CLK_TCK).
const clockTicks = 100

// processCPU returns the CPU time process pid has used so far, user plus
// system, over all its threads, in seconds (in steps of 1/clockTicks).
func processCPU(pid int) (float64, error) {
	path := "/proc/" + strconv.Itoa(pid) + "/stat"
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("reading the CPU time of process %d: %w", pid, err)
	}
	// "pid (comm) state ppid ...": comm may hold spaces and parentheses, so
	// the fields are counted from the last ')'. utime and stime are fields
	// 14 and 15 of the line, so 11 and 12 after it (state is 0).
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("%s: no command name in %q", path, s)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("%s: %d fields after the command name, want at least 13", path, len(f))
	}
	utime, err := strconv.ParseUint(f[11], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: utime: %w", path, err)
	}
	stime, err := strconv.ParseUint(f[12], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: stime: %w", path, err)
	}
	return float64(utime+stime) / clockTicks, nil
}
