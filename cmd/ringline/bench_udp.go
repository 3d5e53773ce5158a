//go:build linux

package main

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ringline bench --udp: datagram echo load. Each of --conns sockets keeps
// --pipeline datagrams of --size bytes in flight; every reply is checked
// byte by byte against what was sent (a sequence number and a pattern
// derived from it); a datagram whose reply has not come back within
// --timeout is counted lost.

// udpBenchConfig is one UDP bench run's settings.
type udpBenchConfig struct {
	addr              string
	conns, size, pipe int
	duration, warmup  time.Duration
	timeout           time.Duration
	serverPID         int
	json              bool
}

// udpBenchResult is what bench --udp --json prints.
type udpBenchResult struct {
	Addr                     string  `json:"addr"`
	Conns                    int     `json:"conns"`
	Size                     int     `json:"size"`
	Pipeline                 int     `json:"pipeline"`
	Seconds                  float64 `json:"seconds"`
	Datagrams                uint64  `json:"datagrams"` // echoes received and checked in the window
	DatagramsPerSec          float64 `json:"datagrams_per_sec"`
	P50us                    float64 `json:"p50_us"`
	P99us                    float64 `json:"p99_us"`
	Lost                     uint64  `json:"lost"`   // no reply within --timeout
	Errors                   uint64  `json:"errors"` // replies that differ from what was sent, socket errors
	FirstError               string  `json:"first_error,omitempty"`
	ServerCPUSeconds         float64 `json:"server_cpu_seconds"`
	DatagramsPerServerCPUSec float64 `json:"datagrams_per_server_cpu_second"`
}

// hasUDPFlag reports whether bench's arguments ask for UDP.
func hasUDPFlag(args []string) bool {
	for _, a := range args {
		name, val, set := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-"), "=")
		if on, err := strconv.ParseBool(val); name == "udp" && (!set || on && err == nil) {
			return true
		}
	}
	return false
}

func parseUDPBench(args []string, stderr io.Writer) (udpBenchConfig, error) {
	fs := flag.NewFlagSet("ringline bench --udp", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c udpBenchConfig
	fs.Bool("udp", true, "datagram echo load (this mode)")
	fs.StringVar(&c.addr, "addr", "127.0.0.1:7878", "the UDP echo server")
	fs.IntVar(&c.conns, "conns", 16, "client sockets")
	fs.IntVar(&c.size, "size", 64, "bytes per datagram, 16 or more")
	fs.IntVar(&c.pipe, "pipeline", 1, "datagrams in flight per socket")
	fs.DurationVar(&c.duration, "duration", 5*time.Second, "measured window")
	fs.DurationVar(&c.warmup, "warmup", 500*time.Millisecond, "load before the window, not counted")
	fs.DurationVar(&c.timeout, "timeout", 200*time.Millisecond, "a datagram not echoed within this is lost")
	fs.IntVar(&c.serverPID, "server-pid", 0, "the server's process, for its CPU time over the window")
	fs.BoolVar(&c.json, "json", false, "print the result as JSON")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	switch {
	case fs.NArg() > 0:
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case c.conns < 1 || c.conns > 4096:
		return c, fmt.Errorf("--conns %d: want 1 to 4096", c.conns)
	case c.size < 16 || c.size > 65507:
		return c, fmt.Errorf("--size %d: want 16 to 65507", c.size)
	case c.pipe < 1 || c.pipe > 1024:
		return c, fmt.Errorf("--pipeline %d: want 1 to 1024", c.pipe)
	case c.duration <= 0 || c.warmup < 0 || c.timeout <= 0:
		return c, errors.New("--duration and --timeout want positive durations, --warmup 0 or more")
	}
	return c, nil
}

func runBenchUDP(args []string, stdout, stderr io.Writer) int {
	c, err := parseUDPBench(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "ringline bench --udp: %v\n", err)
		return 2
	}
	r, err := udpBench(c)
	if err != nil {
		fmt.Fprintf(stderr, "ringline bench --udp: %v\n", err)
		return 1
	}
	if c.json {
		b, _ := json.MarshalIndent(r, "", "  ") // plain fields: cannot fail
		fmt.Fprintf(stdout, "%s\n", b)
	} else {
		fmt.Fprintf(stdout, "%d sockets x %d B x %d in flight: %.0f datagrams/s, p50 %.1f us, p99 %.1f us, lost %d, errors %d, server %.2f CPU s, %.0f datagrams per server CPU-second\n",
			r.Conns, r.Size, r.Pipeline, r.DatagramsPerSec, r.P50us, r.P99us, r.Lost, r.Errors, r.ServerCPUSeconds, r.DatagramsPerServerCPUSec)
	}
	if r.Errors > 0 || r.Datagrams == 0 {
		fmt.Fprintf(stderr, "ringline bench --udp: %d errors, %d datagrams; first error: %s\n", r.Errors, r.Datagrams, r.FirstError)
		return 1
	}
	return 0
}

// udpTally is one socket's count; merged at the end.
type udpTally struct {
	got, lost, errs uint64
	first           string
	lat             *latencies
}

func (t *udpTally) fail(err error) {
	if t.errs++; t.first == "" {
		t.first = err.Error()
	}
}

// fillDatagram writes seq, the socket's id and the run's nonce, and the
// pattern they determine, into b: a reply crossed to another socket, or
// left over from another run, does not match.
func fillDatagram(b []byte, seq uint64, sock uint32, nonce uint32) {
	binary.LittleEndian.PutUint64(b, seq)
	binary.LittleEndian.PutUint32(b[8:], sock)
	binary.LittleEndian.PutUint32(b[12:], nonce)
	x := seq*31 + uint64(sock)*7919 + uint64(nonce)
	for i := 16; i < len(b); i++ {
		b[i] = byte(x + uint64(i))
	}
}

// udpBench runs the load and measures the window.
func udpBench(c udpBenchConfig) (udpBenchResult, error) {
	to, err := net.ResolveUDPAddr("udp", c.addr)
	if err != nil {
		return udpBenchResult{}, err
	}
	start := time.Now()
	from, end := start.Add(c.warmup), start.Add(c.warmup+c.duration)
	nonce := uint32(start.UnixNano())
	tallies := make([]*udpTally, c.conns)
	var wg sync.WaitGroup
	for i := range tallies {
		tallies[i] = &udpTally{lat: newLatencies()}
		conn, err := net.DialUDP("udp", nil, to)
		if err != nil {
			return udpBenchResult{}, err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer conn.Close()
			udpClientLoop(conn, c, tallies[i], uint32(i), nonce, from, end)
		}()
	}
	cpu0 := 0.0
	if c.serverPID > 0 {
		time.Sleep(time.Until(from))
		if cpu0, err = processCPU(c.serverPID); err != nil {
			return udpBenchResult{}, err
		}
	}
	time.Sleep(time.Until(end))
	cpu := 0.0
	if c.serverPID > 0 {
		cpu1, err := processCPU(c.serverPID)
		if err != nil {
			return udpBenchResult{}, err
		}
		cpu = cpu1 - cpu0
	}
	wg.Wait()
	all := &udpTally{lat: newLatencies()}
	for _, t := range tallies {
		all.got += t.got
		all.lost += t.lost
		all.errs += t.errs
		if all.first == "" {
			all.first = t.first
		}
		all.lat.merge(t.lat)
	}
	r := udpBenchResult{
		Addr: c.addr, Conns: c.conns, Size: c.size, Pipeline: c.pipe, Seconds: c.duration.Seconds(),
		Datagrams: all.got, DatagramsPerSec: float64(all.got) / c.duration.Seconds(),
		P50us: all.lat.quantileUs(50), P99us: all.lat.quantileUs(99), Lost: all.lost, Errors: all.errs,
		FirstError: all.first, ServerCPUSeconds: cpu,
	}
	if cpu > 0 {
		r.DatagramsPerServerCPUSec = float64(all.got) / cpu
	}
	return r, nil
}

// udpClientLoop keeps c.pipe datagrams in flight on conn until end,
// counting echoes (and losses) whose sending fell in [from, end). A
// datagram not echoed within c.timeout is lost and its slot reused; a late
// echo of it is not counted; an echo of one already echoed, or of one
// never sent, is an error.
func udpClientLoop(conn *net.UDPConn, c udpBenchConfig, t *udpTally, sock, nonce uint32, from, end time.Time) {
	sent := map[uint64]time.Time{}
	expired := map[uint64]bool{}
	out, in, want := make([]byte, c.size), make([]byte, c.size+1), make([]byte, c.size)
	var seq uint64
	for {
		now := time.Now()
		for s, at := range sent { // overdue: lost, and its slot goes to a new datagram
			if now.Sub(at) >= c.timeout {
				delete(sent, s)
				expired[s] = true
				if !at.Before(from) && at.Before(end) {
					t.lost++
				}
			}
		}
		for len(sent) < c.pipe && now.Before(end) {
			seq++
			fillDatagram(out, seq, sock, nonce)
			if _, err := conn.Write(out); err != nil {
				t.fail(err)
				return
			}
			sent[seq] = now
		}
		if len(sent) == 0 {
			return
		}
		conn.SetReadDeadline(now.Add(c.timeout))
		n, err := conn.Read(in)
		now = time.Now()
		if err != nil {
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				t.fail(err)
				return
			}
			continue
		}
		s := binary.LittleEndian.Uint64(in)
		fillDatagram(want, s, sock, nonce)
		at, ok := sent[s]
		switch {
		case n != c.size || !slices.Equal(in[:n], want):
			t.fail(fmt.Errorf("reply of %d bytes differs from datagram %d of socket %d", n, s, sock))
		case !ok && expired[s]:
			delete(expired, s) // late: already counted lost
		case !ok:
			t.fail(fmt.Errorf("a second reply to datagram %d of socket %d, or one never sent", s, sock))
		default:
			delete(sent, s)
			if !at.Before(from) && at.Before(end) {
				t.got++
				t.lat.record(now.Sub(at))
			}
		}
	}
}
