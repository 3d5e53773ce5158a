//go:build linux

package rio

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// raiseFileLimit raises RLIMIT_NOFILE's soft limit towards need
// descriptors (plus the process's own), up to the hard limit, and returns
// how many of need the limit allows. When strict (Config.MaxConns was set),
// a hard limit short of need is an error that says by how much; otherwise
// the caller lowers its plan to what is allowed.
func raiseFileLimit(need int, strict bool) (int, error) {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		return 0, fmt.Errorf("rio: getrlimit RLIMIT_NOFILE: %w", err)
	}
	const own = 64 // the process's own descriptors
	want := uint64(need) + own
	if lim.Max < want {
		if strict {
			return 0, fmt.Errorf("rio: RLIMIT_NOFILE hard limit is %d, the configuration needs %d (Workers × (MaxConns+4) + 64): short by %d; raise it (ulimit -Hn, LimitNOFILE=) or lower Config.MaxConns or Config.Workers",
				lim.Max, want, want-lim.Max)
		}
		want = lim.Max
	}
	if want <= own {
		return 0, nil
	}
	if lim.Cur < want {
		lim.Cur = want
		if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
			return 0, fmt.Errorf("rio: setrlimit RLIMIT_NOFILE to %d: %w", want, err)
		}
	}
	return int(want - own), nil
}

// pinThread binds the calling thread to the i-th CPU (modulo their number)
// of those the process may run on.
func pinThread(i int) error {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return fmt.Errorf("sched_getaffinity: %w", err)
	}
	var cpus []int
	for c := 0; c < len(set)*64; c++ {
		if set.IsSet(c) {
			cpus = append(cpus, c)
		}
	}
	if len(cpus) == 0 {
		return fmt.Errorf("sched_getaffinity: no CPU allowed")
	}
	var one unix.CPUSet
	one.Set(cpus[i%len(cpus)])
	if err := unix.SchedSetaffinity(0, &one); err != nil {
		return fmt.Errorf("sched_setaffinity CPU %d: %w", cpus[i%len(cpus)], err)
	}
	return nil
}
