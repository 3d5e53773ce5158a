//go:build linux

package main

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// What bench sends and how it checks the echo. Every byte of a request is a
// function of (connection, sequence number, offset), so an echo that is
// corrupted, cut short, reordered, duplicated or from another connection
// differs from what is expected at that point of the stream.

// mix64 scrambles x: a bijection on 64-bit words whose output bits each
// depend on every input bit (the finalizer of the SplitMix64 generator).
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// requestSeed names request seq of connection conn; distinct pairs give
// seeds scattered over the 64-bit space.
func requestSeed(conn int, seq uint64) uint64 {
	return mix64(uint64(conn)<<40 ^ seq ^ 0x6a09e667f3bcc908)
}

// patternWord is the 8-byte word at word index i of the request with seed.
func patternWord(seed uint64, i int) uint64 { return mix64(seed + uint64(i)) }

// patternByte is the byte at offset off of the request with seed.
func patternByte(seed uint64, off int) byte {
	return byte(patternWord(seed, off>>3) >> (8 * (off & 7)))
}

// fillPattern writes into dst the request bytes at offsets off to
// off+len(dst).
func fillPattern(dst []byte, seed uint64, off int) {
	i := 0
	for ; i < len(dst) && (off+i)&7 != 0; i++ {
		dst[i] = patternByte(seed, off+i)
	}
	for ; i+8 <= len(dst); i += 8 {
		binary.LittleEndian.PutUint64(dst[i:], patternWord(seed, (off+i)>>3))
	}
	for ; i < len(dst); i++ {
		dst[i] = patternByte(seed, off+i)
	}
}

// checkPattern compares got with the request bytes at offsets off to
// off+len(got) and returns the index in got of the first difference, or -1.
func checkPattern(got []byte, seed uint64, off int) int {
	i := 0
	for ; i < len(got) && (off+i)&7 != 0; i++ {
		if got[i] != patternByte(seed, off+i) {
			return i
		}
	}
	for ; i+8 <= len(got); i += 8 {
		if binary.LittleEndian.Uint64(got[i:]) != patternWord(seed, (off+i)>>3) {
			break // the byte loop below finds which
		}
	}
	for ; i < len(got); i++ {
		if got[i] != patternByte(seed, off+i) {
			return i
		}
	}
	return -1
}

// mismatch describes an echo of request seq on connection conn that
// differs at byte bad of got, which holds the echo from offset off. When
// got is, from its start, the echo of a nearby request of the same
// connection instead, it says so: a reordered or duplicated echo.
func mismatch(conn int, seq uint64, size int, got []byte, off, bad int, pipeline int) string {
	msg := fmt.Sprintf("conn %d request %d: echoed byte %d of %d is %#02x, want %#02x",
		conn, seq, off+bad, size, got[bad], patternByte(requestSeed(conn, seq), off+bad))
	lo := seq - min(seq, uint64(pipeline)+1)
	for other := lo; other <= seq+uint64(pipeline)+1; other++ {
		if other != seq && checkPattern(got, requestSeed(conn, other), off) < 0 {
			return msg + fmt.Sprintf(" (the echo is request %d's: reordered or duplicated)", other)
		}
	}
	return msg
}

// latencyMax is the largest latency the histogram holds; longer ones are
// recorded as this.
const latencyMax = 60 * time.Second

// latencies is a histogram of latencies in nanoseconds, from 1 µs to 60 s
// with 3 significant digits. Not safe for concurrent use: each goroutine or
// worker keeps its own, merged at the end.
type latencies struct{ h *hdrhistogram.Histogram }

func newLatencies() *latencies {
	return &latencies{hdrhistogram.New(int64(time.Microsecond), int64(latencyMax), 3)}
}

// record adds one latency.
func (l *latencies) record(d time.Duration) {
	_ = l.h.RecordValue(int64(min(max(d, 0), latencyMax))) // in range by construction
}

// merge adds o's latencies to l's.
func (l *latencies) merge(o *latencies) { l.h.Merge(o.h) }

// quantileUs returns the latency at percentile p (0 to 100) in
// microseconds; 0 when nothing was recorded.
func (l *latencies) quantileUs(p float64) float64 {
	return float64(l.h.ValueAtQuantile(p)) / float64(time.Microsecond)
}

// maxUs returns the largest latency recorded, in microseconds.
func (l *latencies) maxUs() float64 {
	if l.h.TotalCount() == 0 {
		return 0
	}
	return float64(l.h.Max()) / float64(time.Microsecond)
}

// maxErrorSamples is how many error descriptions a run keeps.
const maxErrorSamples = 5

// errorLog counts errors and keeps the first few descriptions. Not safe
// for concurrent use.
type errorLog struct {
	n       uint64
	samples []string
}

// add counts one error described by msg.
func (l *errorLog) add(msg string) {
	l.n++
	if len(l.samples) < maxErrorSamples {
		l.samples = append(l.samples, msg)
	}
}

// merge adds o's errors to l's.
func (l *errorLog) merge(o *errorLog) {
	l.n += o.n
	for _, s := range o.samples {
		if len(l.samples) < maxErrorSamples {
			l.samples = append(l.samples, s)
		}
	}
}
