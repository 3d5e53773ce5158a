//go:build linux

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ringline-go/ringline/rio"
)

// The engines of ringline disk.

// openFlag is the open(2) mode of a run's file.
func (c diskConfig) openFlag() int {
	if c.op == "write" {
		return os.O_RDWR | unix.O_DIRECT
	}
	return os.O_RDONLY | unix.O_DIRECT
}

// offset picks a random block of the file.
func (c diskConfig) offset(r *rand.Rand) int64 { return r.Int64N(c.size/diskBlock) * diskBlock }

// buffers makes qd aligned request buffers holding data.
func (c diskConfig) buffers() [][]byte {
	bufs := make([][]byte, c.qd)
	for i := range bufs {
		bufs[i] = rio.AlignedBuffer(diskBlock, diskBlock)
		for j := range bufs[i] {
			bufs[i][j] = byte(i + j)
		}
	}
	return bufs
}

// diskTally is what a run counted; each goroutine or worker keeps its own.
type diskTally struct {
	ops, errs uint64
	first     string
	lat       *latencies
}

func newTally() *diskTally { return &diskTally{lat: newLatencies()} }

// note counts one request that took d.
func (t *diskTally) note(d time.Duration, err error) {
	if err != nil {
		if t.errs++; t.first == "" {
			t.first = err.Error()
		}
		return
	}
	t.ops++
	t.lat.record(d)
}

// result turns a tally over elapsed and cpu seconds into a result.
func (t *diskTally) result(elapsed time.Duration, cpu float64) diskResult {
	return diskResult{
		Ops: t.ops, Errors: t.errs, FirstError: t.first, DurationS: elapsed.Seconds(),
		IOPS: float64(t.ops) / elapsed.Seconds(), P50us: t.lat.quantileUs(50), P99us: t.lat.quantileUs(99), CPUs: cpu,
	}
}

// workerLoad is the worker API run: qd requests kept in flight by their
// own completions, on the worker's thread.
type workerLoad struct {
	c      diskConfig
	h      rio.FileHandle
	bufs   [][]byte
	starts []time.Time
	cbs    []func(int, error)
	rnd    *rand.Rand
	tally  *diskTally
	end    time.Time
	active int
	t0     time.Time
	cpu0   float64
	done   chan<- diskResult
}

// diskWorkers runs the worker API on one worker of the given backend; on
// epoll with a file thread per request in flight, its best case.
func diskWorkers(c diskConfig, backend string) (diskResult, error) {
	cfg := rio.Config{Backend: rio.Backend(backend), Workers: 1, FileOps: 2 * c.qd, FileThreads: c.qd}
	srv, err := rio.StartClient(context.Background(), cfg, rio.NopHandler{})
	if err != nil {
		return diskResult{}, err
	}
	defer srv.Close()
	done := make(chan diskResult, 1)
	errc := make(chan error, 1)
	l := &workerLoad{c: c, bufs: c.buffers(), starts: make([]time.Time, c.qd), rnd: rand.New(rand.NewPCG(1, 2)), tally: newTally(), done: done}
	for i := range c.qd {
		l.cbs = append(l.cbs, func(n int, err error) { l.complete(i, n, err) })
	}
	err = srv.Run(0, func(w *rio.Worker) {
		err := w.OpenFile(c.file, c.openFlag(), 0, func(h rio.FileHandle, err error) {
			if err != nil {
				errc <- err
				return
			}
			l.h, l.t0, l.cpu0 = h, time.Now(), selfCPU()
			l.end = l.t0.Add(c.duration)
			for i := range c.qd {
				l.issue(i)
			}
		})
		if err != nil {
			errc <- err
		}
	})
	if err != nil {
		return diskResult{}, err
	}
	select {
	case r := <-done:
		return r, nil
	case err := <-errc:
		return diskResult{}, err
	}
}

// issue starts request i at a random block; a refusal counts as an error.
func (l *workerLoad) issue(i int) {
	l.active++
	l.starts[i] = time.Now()
	off := l.c.offset(l.rnd)
	var err error
	if l.c.op == "write" {
		err = l.h.WriteAt(l.bufs[i], off, l.cbs[i])
	} else {
		err = l.h.ReadAt(l.bufs[i], off, l.cbs[i])
	}
	if err != nil {
		l.complete(i, 0, err)
	}
}

// complete counts request i and starts the next until the run ends; the
// last one out closes the file and reports.
func (l *workerLoad) complete(i, n int, err error) {
	now := time.Now()
	l.active--
	if err == nil && n != diskBlock {
		err = fmt.Errorf("short transfer: %d of %d bytes", n, diskBlock)
	}
	l.tally.note(now.Sub(l.starts[i]), err)
	if now.Before(l.end) && err == nil {
		l.issue(i)
		return
	}
	if l.active > 0 {
		return
	}
	r := l.tally.result(now.Sub(l.t0), selfCPU()-l.cpu0)
	l.h.Close(func(error) { l.done <- r })
}

// diskFile runs File from qd goroutines on one io_uring worker.
func diskFile(c diskConfig) (diskResult, error) {
	srv, err := rio.StartClient(context.Background(), rio.Config{Backend: rio.BackendIOUring, Workers: 1, FileOps: 2 * c.qd}, rio.NopHandler{})
	if err != nil {
		return diskResult{}, err
	}
	defer srv.Close()
	f, err := srv.OpenFile(c.file, c.openFlag(), 0)
	if err != nil {
		return diskResult{}, err
	}
	defer f.Close()
	return goroutineLoad(c, f.ReadAt, f.WriteAt), nil
}

// diskOSFile runs os.File from qd goroutines.
func diskOSFile(c diskConfig) (diskResult, error) {
	f, err := os.OpenFile(c.file, c.openFlag(), 0)
	if err != nil {
		return diskResult{}, err
	}
	defer f.Close()
	return goroutineLoad(c, f.ReadAt, f.WriteAt), nil
}

// goroutineLoad keeps qd requests in flight from qd goroutines, each
// waiting for its own, until the run's time is up.
func goroutineLoad(c diskConfig, readAt, writeAt func([]byte, int64) (int, error)) diskResult {
	do := readAt
	if c.op == "write" {
		do = writeAt
	}
	bufs := c.buffers()
	tallies := make([]*diskTally, c.qd)
	t0, cpu0 := time.Now(), selfCPU()
	end := t0.Add(c.duration)
	var wg sync.WaitGroup
	for g := range c.qd {
		tallies[g] = newTally()
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 3))
			for start := time.Now(); start.Before(end); start = time.Now() {
				n, err := do(bufs[g], c.offset(r))
				if err == nil && n != diskBlock {
					err = fmt.Errorf("short transfer: %d of %d bytes", n, diskBlock)
				}
				tallies[g].note(time.Since(start), err)
			}
		}()
	}
	wg.Wait()
	elapsed, cpu := time.Since(t0), selfCPU()-cpu0
	all := tallies[0]
	for _, t := range tallies[1:] {
		all.ops += t.ops
		all.errs += t.errs
		if all.first == "" {
			all.first = t.first
		}
		all.lat.merge(t.lat)
	}
	return all.result(elapsed, cpu)
}

// fioReport is the part of fio's JSON output disk reads.
type fioReport struct {
	Jobs []struct {
		Read      fioSide `json:"read"`
		Write     fioSide `json:"write"`
		RuntimeMs float64 `json:"job_runtime"`
		Error     int     `json:"error"`
	} `json:"jobs"`
}

type fioSide struct {
	IOPS   float64  `json:"iops"`
	TotalN uint64   `json:"total_ios"`
	Lat    struct { // submission to completion, as ringline's engines time a request
		Percentile map[string]float64 `json:"percentile"`
	} `json:"lat_ns"`
}

// diskFio runs fio's io_uring engine with its defaults (no registered
// files or buffers, no polling), one job at the same queue depth, offsets
// drawn uniformly with repeats as ringline's engines draw them.
func diskFio(c diskConfig) (diskResult, error) {
	fio, err := exec.LookPath("fio")
	if err != nil {
		return diskResult{}, fmt.Errorf("%w: fio is not installed (apt-get install fio)", errSkipped)
	}
	rw := "randread"
	if c.op == "write" {
		rw = "randwrite"
	}
	cmd := exec.Command(fio, "--name=ringline", "--filename="+c.file, "--ioengine=io_uring", "--direct=1",
		"--rw="+rw, "--bs="+strconv.Itoa(diskBlock), "--iodepth="+strconv.Itoa(c.qd), "--size="+strconv.FormatInt(c.size, 10),
		"--norandommap", "--randrepeat=0", "--lat_percentiles=1",
		"--time_based", "--runtime="+strconv.FormatFloat(c.duration.Seconds(), 'f', -1, 64)+"s",
		"--numjobs=1", "--output-format=json")
	out, err := cmd.Output()
	if err != nil {
		return diskResult{}, fmt.Errorf("fio: %w", err)
	}
	// The whole fio process's CPU, as the in-process engines count theirs
	// (fio's own usr_cpu and sys_cpu are its job thread's alone).
	cpu := (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds()
	var rep fioReport
	if err := json.Unmarshal(out, &rep); err != nil || len(rep.Jobs) != 1 {
		return diskResult{}, errors.Join(fmt.Errorf("fio printed no report of one job"), err)
	}
	j := rep.Jobs[0]
	side := j.Read
	if c.op == "write" {
		side = j.Write
	}
	r := diskResult{
		Ops: side.TotalN, DurationS: j.RuntimeMs / 1000, IOPS: side.IOPS, CPUs: cpu,
		P50us: side.Lat.Percentile["50.000000"] / 1000, P99us: side.Lat.Percentile["99.000000"] / 1000,
	}
	if j.Error != 0 { // an errno, not a count
		r.Errors, r.FirstError = 1, fmt.Sprintf("fio: errno %d", j.Error)
	}
	return r, nil
}
