//go:build linux

package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// ringline disk: 4 KiB random O_DIRECT reads or writes on one file, at a
// fixed queue depth, through each engine in turn (interleaved over
// --runs rounds): the worker API on io_uring and on epoll, File from
// goroutines, os.File.ReadAt/WriteAt from --qd goroutines, and fio's
// io_uring engine when fio is installed. Each run reports IOPS, latency
// percentiles and the CPU the engine's process used.

// diskConfig is one disk run's settings, checked.
type diskConfig struct {
	file     string
	size     int64
	qd       int
	duration time.Duration
	op       string // "read" or "write"
	engines  []string
	runs     int
	json     bool
}

// diskResult is one engine's run: what disk --json prints, one object each.
type diskResult struct {
	Engine      string  `json:"engine"`
	Op          string  `json:"op"`
	QD          int     `json:"qd"`
	Run         int     `json:"run"`
	Ops         uint64  `json:"ops"`
	Errors      uint64  `json:"errors"`
	DurationS   float64 `json:"duration_s"`
	IOPS        float64 `json:"iops"`
	P50us       float64 `json:"p50_us"`
	P99us       float64 `json:"p99_us"`
	CPUs        float64 `json:"cpu_s"`
	IOPSPerCPUs float64 `json:"iops_per_cpu_s"`
	FirstError  string  `json:"first_error,omitempty"`
}

// diskBlock is the size of every request, and the alignment of offsets and buffers.
const diskBlock = 4096

// diskEngines are the engines disk knows, in the order it runs them.
var diskEngines = []string{"uring", "uring-file", "epoll", "osfile", "fio"}

const diskHint = `run "ringline disk -h" for the flags`

func parseDisk(args []string, stderr io.Writer) (diskConfig, error) {
	fs := flag.NewFlagSet("disk", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c diskConfig
	var engines string
	fs.StringVar(&c.file, "file", "ringline-disk.dat", "the file to read or write; made (filled with data) if it is smaller than --size. O_DIRECT needs a filesystem that takes it (not tmpfs)")
	fs.Int64Var(&c.size, "size", 1<<30, "bytes of the file the requests fall in")
	fs.IntVar(&c.qd, "qd", 32, "requests in flight, 1 to 64")
	fs.DurationVar(&c.duration, "duration", 8*time.Second, "how long each engine runs")
	fs.StringVar(&c.op, "op", "read", "read or write: 4 KiB random reads or writes")
	fs.StringVar(&engines, "engines", strings.Join(diskEngines, ","), "engines to run, comma-separated: "+strings.Join(diskEngines, ", ")+" (fio is skipped when not installed)")
	fs.IntVar(&c.runs, "runs", 1, "rounds; each runs every engine once, in order")
	fs.BoolVar(&c.json, "json", false, "print one JSON object per engine and run")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	c.engines = strings.Split(engines, ",")
	switch {
	case fs.NArg() > 0:
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case c.qd < 1 || c.qd > 64:
		return c, fmt.Errorf("--qd %d: want 1 to 64", c.qd)
	case c.size < diskBlock || c.size%diskBlock != 0:
		return c, fmt.Errorf("--size %d: want a positive multiple of %d", c.size, diskBlock)
	case c.duration <= 0:
		return c, fmt.Errorf("--duration %v: want a positive duration", c.duration)
	case c.op != "read" && c.op != "write":
		return c, fmt.Errorf("--op %q: want read or write", c.op)
	case c.runs < 1:
		return c, fmt.Errorf("--runs %d: want at least 1", c.runs)
	}
	for _, e := range c.engines {
		if !slices.Contains(diskEngines, e) {
			return c, fmt.Errorf("--engines: unknown engine %q (want %s)", e, strings.Join(diskEngines, ", "))
		}
	}
	return c, nil
}

func runDisk(args []string, stdout, stderr io.Writer) int {
	c, err := parseDisk(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "ringline disk: %v\n%s\n", err, diskHint)
		return 2
	}
	if err := prepareDiskFile(c.file, c.size); err != nil {
		fmt.Fprintf(stderr, "ringline disk: %v\n", err)
		return 1
	}
	status := 0
	for run := 1; run <= c.runs; run++ {
		for _, e := range c.engines {
			fmt.Fprintf(stderr, "disk: %s %s qd %d, run %d of %d\n", e, c.op, c.qd, run, c.runs)
			r, err := diskEngine(e, c)
			if errors.Is(err, errSkipped) {
				fmt.Fprintf(stderr, "disk: %s skipped: %v\n", e, err)
				continue
			}
			if err != nil {
				fmt.Fprintf(stderr, "ringline disk: %s: %v\n", e, err)
				status = 1
				continue
			}
			r.Engine, r.Op, r.QD, r.Run = e, c.op, c.qd, run
			if r.CPUs > 0 {
				r.IOPSPerCPUs = r.IOPS / r.CPUs
			}
			if r.Errors > 0 {
				status = 1
			}
			printDisk(stdout, r, c.json)
		}
	}
	return status
}

// errSkipped marks an engine that cannot run here (fio not installed).
var errSkipped = errors.New("skipped")

// diskEngine runs one engine once.
func diskEngine(name string, c diskConfig) (diskResult, error) {
	switch name {
	case "uring":
		return diskWorkers(c, "io_uring")
	case "epoll":
		return diskWorkers(c, "epoll")
	case "uring-file":
		return diskFile(c)
	case "osfile":
		return diskOSFile(c)
	default:
		return diskFio(c)
	}
}

func printDisk(w io.Writer, r diskResult, asJSON bool) {
	if asJSON {
		b, _ := json.Marshal(r) // plain fields: cannot fail
		fmt.Fprintf(w, "%s\n", b)
		return
	}
	fmt.Fprintf(w, "%-10s %-5s qd %-2d run %d: %9.0f IOPS  p50 %7.1f us  p99 %7.1f us  cpu %6.2f s  %9.0f IOPS/cpu-s  errors %d\n",
		r.Engine, r.Op, r.QD, r.Run, r.IOPS, r.P50us, r.P99us, r.CPUs, r.IOPSPerCPUs, r.Errors)
}

// prepareDiskFile makes name at least size bytes of written data (a hole
// would be read without touching the disk), in 1 MiB writes.
func prepareDiskFile(name string, size int64) error {
	st, err := os.Stat(name)
	if err == nil && st.Size() >= size {
		return nil
	}
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	chunk := make([]byte, 1<<20)
	for i := range chunk {
		chunk[i] = byte(i*7 + i>>12)
	}
	for off := int64(0); off < size && err == nil; off += int64(len(chunk)) {
		_, err = f.WriteAt(chunk[:min(int64(len(chunk)), size-off)], off)
	}
	return errors.Join(err, f.Sync(), f.Close())
}

// selfCPU is the CPU time this process has used, user plus system, in seconds.
func selfCPU() float64 {
	var ru unix.Rusage
	_ = unix.Getrusage(unix.RUSAGE_SELF, &ru) // cannot fail for RUSAGE_SELF
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}
