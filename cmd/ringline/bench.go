//go:build linux

package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// ringline bench: a closed-loop load generator for an echo server. Each
// connection keeps --pipeline requests of --size bytes in flight; every
// echoed byte is checked, and the responses completing inside the measured
// window (after --warmup, for --duration) are counted and timed.

// benchConfig is one bench run's settings, checked.
type benchConfig struct {
	network, addr         string // "tcp" or "unix", and where
	conns, size, pipeline int
	duration, warmup      time.Duration
	client                string // "net" or "ringline"
	clientWorkers         int    // the ringline client's workers
	json                  bool
	serverPID             int // 0: none
}

// benchHint follows a usage error.
const benchHint = `run "ringline bench -h" for the flags`

// maxRequestSize bounds --size: each connection holds a request or two.
const maxRequestSize = 16 << 20

func parseBenchFlags(args []string) (benchConfig, *flag.FlagSet, error) {
	var cfg benchConfig
	var unixPath string
	fs := flag.NewFlagSet("ringline bench", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported once, by runBench
	fs.StringVar(&cfg.addr, "addr", "127.0.0.1:7878", "TCP address of the echo server (host:port)")
	fs.StringVar(&unixPath, "unix", "", "connect to this Unix socket path instead of TCP")
	fs.IntVar(&cfg.conns, "conns", 128, "connections")
	fs.IntVar(&cfg.size, "size", 1024, "bytes per request (and per echo)")
	fs.IntVar(&cfg.pipeline, "pipeline", 8, "requests in flight per connection")
	fs.DurationVar(&cfg.duration, "duration", 5*time.Second, "measured time")
	fs.DurationVar(&cfg.warmup, "warmup", time.Second, "time before the measured window (connections are made in it)")
	fs.IntVar(&cfg.clientWorkers, "client-workers", 2, "workers of the ringline client (at most the usable CPUs and --conns)")
	fs.StringVar(&cfg.client, "client", "net", "load generator: net (Go's net package, two goroutines per connection) or ringline (the runtime)")
	fs.BoolVar(&cfg.json, "json", false, "print the result as JSON")
	fs.IntVar(&cfg.serverPID, "server-pid", 0, "also report this process's CPU time over the measured window (the server's)")
	if err := fs.Parse(args); err != nil {
		return cfg, fs, err
	}
	explicit := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { explicit[f.Name] = true })
	cfg.network = "tcp"
	if unixPath != "" {
		cfg.network, cfg.addr = "unix", unixPath
	}
	switch {
	case fs.NArg() > 0:
		return cfg, fs, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case explicit["addr"] && explicit["unix"]:
		return cfg, fs, errors.New("--addr and --unix: give one")
	case cfg.conns < 1:
		return cfg, fs, fmt.Errorf("--conns %d: want at least 1", cfg.conns)
	case cfg.size < 1 || cfg.size > maxRequestSize:
		return cfg, fs, fmt.Errorf("--size %d: want 1 to %d bytes", cfg.size, maxRequestSize)
	case cfg.pipeline < 1:
		return cfg, fs, fmt.Errorf("--pipeline %d: want at least 1", cfg.pipeline)
	case cfg.duration <= 0:
		return cfg, fs, fmt.Errorf("--duration %v: want a positive duration", cfg.duration)
	case cfg.warmup < 0:
		return cfg, fs, fmt.Errorf("--warmup %v: want 0 or more", cfg.warmup)
	case cfg.client != "net" && cfg.client != "ringline":
		return cfg, fs, fmt.Errorf("--client %q: want net or ringline", cfg.client)
	case cfg.clientWorkers < 1:
		return cfg, fs, fmt.Errorf("--client-workers %d: want at least 1", cfg.clientWorkers)
	case cfg.serverPID < 0:
		return cfg, fs, fmt.Errorf("--server-pid %d: want a process id", cfg.serverPID)
	}
	if cfg.serverPID > 0 {
		if _, err := processCPU(cfg.serverPID); err != nil {
			return cfg, fs, fmt.Errorf("--server-pid %d: %w", cfg.serverPID, err)
		}
	}
	return cfg, fs, nil
}

// runBench loads the echo server and reports; exit 1 when an echo was wrong
// or a connection failed, when no connection could be made, or when no echo
// completed in the measured window.
func runBench(args []string, stdout, stderr io.Writer) int {
	if hasUDPFlag(args) {
		return runBenchUDP(args, stdout, stderr)
	}
	cfg, fs, err := parseBenchFlags(args)
	if errors.Is(err, flag.ErrHelp) {
		fs.SetOutput(stderr)
		fmt.Fprintln(stderr, "usage: ringline bench [flags]")
		fs.PrintDefaults()
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "ringline bench: %v\n%s\n", err, benchHint)
		return 2
	}
	res, err := benchRun(cfg, newProgress(stderr, cfg.warmup+cfg.duration))
	if err != nil {
		fmt.Fprintf(stderr, "ringline bench: %v\n", err)
		return 1
	}
	if cfg.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			fmt.Fprintf(stderr, "ringline bench: writing the result: %v\n", err)
			return 1
		}
	} else {
		writeBenchText(stdout, cfg, res)
	}
	switch {
	case res.Errors > 0:
		fmt.Fprintf(stderr, "ringline bench: %d errors (echoes that differ from the request, or failed connections); first: %s\n", res.Errors, res.ErrorSamples[0])
		return 1
	case res.Ops == 0:
		fmt.Fprintf(stderr, "ringline bench: no echo completed in the %v measured window\n", cfg.duration)
		return 1
	}
	return 0
}

// clock tells the time since the run began (monotonic).
type clock struct{ base time.Time }

func (c clock) now() time.Duration { return time.Since(c.base) }

// window is the measured part of the run, as times on its clock.
type window struct{ from, to time.Duration }

// holds reports whether a response completing at t counts.
func (w window) holds(t time.Duration) bool { return t >= w.from && t < w.to }

// loadClient is a running load: the net or the ringline client.
type loadClient interface {
	// ops returns the responses counted so far; safe while the load runs.
	ops() uint64
	// live returns the connections still running; safe while the load runs.
	live() int
	// stop ends the load, waits until every connection, goroutine and
	// worker is gone, and returns what was counted.
	stop() tally
}

// tally is what a client counted over the run.
type tally struct {
	ops     uint64 // responses completed in the window
	lat     *latencies
	errs    errorLog
	opened  int   // connections that were made
	dialErr error // why the first failed dial failed
}

// noConnection is the error of a run that could not make one connection.
func noConnection(cfg benchConfig, err error) error {
	if err == nil {
		return fmt.Errorf("no connection to %s was made before the run ended", cfg.addr)
	}
	return fmt.Errorf("no connection to %s could be made (is an echo server listening there?): %w", cfg.addr, err)
}

// benchRun starts the load, waits for the window to pass and returns the
// result.
func benchRun(cfg benchConfig, prog *progress) (benchResult, error) {
	clk := clock{time.Now()}
	win := window{cfg.warmup, cfg.warmup + cfg.duration}
	var cl loadClient
	var err error
	if cfg.client == "ringline" {
		cl, err = startRinglineClient(cfg, clk, win)
	} else {
		cl, err = startNetClient(cfg, clk, win)
	}
	if err != nil {
		return benchResult{}, err
	}
	measured, cpu, cpuErr := watch(cl, cfg.serverPID, clk, win, prog)
	prog.clear()
	t := cl.stop()
	if t.opened == 0 {
		return benchResult{}, noConnection(cfg, t.dialErr)
	}
	if cpuErr != nil {
		fmt.Fprintf(prog.w, "ringline bench: --server-pid %d: %v (server CPU not reported)\n", cfg.serverPID, cpuErr)
		cpu = 0
	}
	return makeResult(cfg, t, measured, cpu), nil
}

// watch waits until the window ends or every connection has stopped, and
// returns how much of the window passed and the CPU time pid (if not 0)
// used in it.
func watch(cl loadClient, pid int, clk clock, win window, prog *progress) (time.Duration, float64, error) {
	const poll = 50 * time.Millisecond
	var cpu0 float64
	var cpuErr error
	started := false
	now := clk.now()
	for ; now < win.to && cl.live() > 0; now = clk.now() {
		if !started && now >= win.from {
			started = true
			if pid > 0 {
				cpu0, cpuErr = processCPU(pid)
			}
		}
		prog.show(now, win, cl.ops())
		next := win.to
		if !started {
			next = win.from
		}
		time.Sleep(min(next-now, poll))
	}
	if !started {
		return 0, 0, nil
	}
	var cpu float64
	if pid > 0 && cpuErr == nil {
		var cpu1 float64
		cpu1, cpuErr = processCPU(pid)
		cpu = cpu1 - cpu0
	}
	return min(now, win.to) - win.from, cpu, cpuErr
}

// makeResult turns a tally into the reported figures.
func makeResult(cfg benchConfig, t tally, measured time.Duration, cpu float64) benchResult {
	r := benchResult{
		Addr: cfg.addr, Client: cfg.client, Conns: cfg.conns, Size: cfg.size, Pipeline: cfg.pipeline,
		Seconds: measured.Seconds(), Ops: t.ops,
		P50us: t.lat.quantileUs(50), P90us: t.lat.quantileUs(90), P99us: t.lat.quantileUs(99),
		P999us: t.lat.quantileUs(99.9), MaxUs: t.lat.maxUs(),
		Errors: t.errs.n, ErrorSamples: t.errs.samples,
	}
	if r.ErrorSamples == nil {
		r.ErrorSamples = []string{}
	}
	if r.Seconds > 0 {
		r.OpsPerSec = float64(r.Ops) / r.Seconds
		r.MBPerSec = float64(r.Ops) * float64(r.Size) / r.Seconds / 1e6
	}
	if cpu > 0 {
		r.ServerCPUSeconds = cpu
		r.OpsPerServerCPUSecond = float64(r.Ops) / cpu
	}
	return r
}

// writeBenchText prints the result as one block.
func writeBenchText(w io.Writer, cfg benchConfig, r benchResult) {
	fmt.Fprintf(w, "bench %s (%s client): %d conns x %d B, %d in flight each, %.2f s measured after %v warm-up\n",
		r.Addr, r.Client, r.Conns, r.Size, r.Pipeline, r.Seconds, cfg.warmup)
	fmt.Fprintf(w, "  ops/s    %.0f (%d echoes)\n", r.OpsPerSec, r.Ops)
	fmt.Fprintf(w, "  MB/s     %.2f\n", r.MBPerSec)
	fmt.Fprintf(w, "  latency  p50 %s  p90 %s  p99 %s  p99.9 %s  max %s\n",
		fmtUs(r.P50us), fmtUs(r.P90us), fmtUs(r.P99us), fmtUs(r.P999us), fmtUs(r.MaxUs))
	fmt.Fprintf(w, "  errors   %d\n", r.Errors)
	for _, s := range r.ErrorSamples {
		fmt.Fprintf(w, "           %s\n", s)
	}
	if cfg.serverPID > 0 {
		fmt.Fprintf(w, "  server   %.2f CPU-s (pid %d), %.0f ops per server CPU-second\n",
			r.ServerCPUSeconds, cfg.serverPID, r.OpsPerServerCPUSecond)
	}
}

// fmtUs formats a latency given in microseconds with a fitting unit.
func fmtUs(us float64) string {
	switch {
	case us < 1000:
		return fmt.Sprintf("%.0fµs", us)
	case us < 1e6:
		return fmt.Sprintf("%.3gms", us/1e3)
	}
	return fmt.Sprintf("%.3gs", us/1e6)
}

// progress is the live line on stderr, shown only when stderr is a
// terminal and the run lasts more than two seconds.
type progress struct {
	w     io.Writer
	on    bool
	shown bool
	last  time.Duration
}

func newProgress(w io.Writer, total time.Duration) *progress {
	f, ok := w.(*os.File)
	on := ok && total > 2*time.Second
	if on {
		_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
		on = err == nil
	}
	return &progress{w: w, on: on}
}

// show rewrites the line, at most four times a second.
func (p *progress) show(now time.Duration, win window, ops uint64) {
	if !p.on || (p.shown && now-p.last < 250*time.Millisecond) {
		return
	}
	p.shown, p.last = true, now
	if now < win.from {
		fmt.Fprintf(p.w, "\r\033[Kbench: warming up, %v left", ceilSecond(win.from-now))
	} else {
		fmt.Fprintf(p.w, "\r\033[Kbench: measuring, %v left, %d echoes", ceilSecond(win.to-now), ops)
	}
}

// clear erases the line if it was shown.
func (p *progress) clear() {
	if p.shown {
		fmt.Fprint(p.w, "\r\033[K")
		p.shown = false
	}
}

func ceilSecond(d time.Duration) time.Duration {
	return (d + time.Second - 1).Truncate(time.Second)
}
