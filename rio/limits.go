//go:build linux

package rio

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// raiseFileLimit raises RLIMIT_NOFILE's soft limit towards need
// descriptors (plus the process's own), up to the hard limit. When strict
// (Config.MaxConns was set), a hard limit short of need is an error that
// says by how much; otherwise (the default MaxConns, a ceiling rather than
// a plan) the soft limit goes as high as the hard one allows, and accepts
// past it fail with EMFILE, counted as accept errors.
func raiseFileLimit(need int, strict bool) error {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("rio: getrlimit RLIMIT_NOFILE: %w", err)
	}
	want := uint64(need) + 64 // the process's own descriptors
	if lim.Cur >= want {
		return nil
	}
	if lim.Max < want {
		if strict {
			return fmt.Errorf("rio: RLIMIT_NOFILE hard limit is %d, the configuration needs %d (Workers × (MaxConns+4) + 64): short by %d; raise it (ulimit -Hn, LimitNOFILE=) or lower Config.MaxConns or Config.Workers",
				lim.Max, want, want-lim.Max)
		}
		want = lim.Max
	}
	if lim.Cur >= want {
		return nil
	}
	lim.Cur = want
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("rio: setrlimit RLIMIT_NOFILE to %d: %w", want, err)
	}
	return nil
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
