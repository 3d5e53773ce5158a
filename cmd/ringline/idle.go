//go:build linux

package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// ringline idle: the memory a server holds per idle connection. It reads
// the server's resident memory, makes --conns connections and has each
// echo one byte (so every one is known served), holds them all idle for
// --hold, reads the server's memory again and reports the growth per
// connection.

// idleConfig is one idle run's settings, checked.
type idleConfig struct {
	addr      string
	conns     int
	hold      time.Duration
	serverPID int
	json      bool
}

// idleResult is one idle run: what idle --json prints.
type idleResult struct {
	Addr          string  `json:"addr"`
	Conns         int     `json:"conns"`           // connections held, each served one echo
	HoldS         float64 `json:"hold_s"`          // how long they were held idle before the reading
	BaselineRSSkB int64   `json:"baseline_rss_kb"` // the server's VmRSS before the first dial
	RSSkB         int64   `json:"rss_kb"`          // its VmRSS after the hold
	HWMkB         int64   `json:"hwm_kb"`          // its VmHWM (peak VmRSS) after the hold
	PerConnBytes  int64   `json:"per_conn_bytes"`  // (rss_kb - baseline_rss_kb) * 1024 / conns
	Errors        int     `json:"errors"`          // connections that failed to dial or echo
}

// idleHint follows a usage error.
const idleHint = `run "ringline idle -h" for the flags`

// idleDialers is how many connections are being dialed at once.
const idleDialers = 64

// fdMargin is the descriptors the client needs beyond one per connection
// (standard streams, the poller, slack).
const fdMargin = 64

// parseIdleFlags parses and checks idle's flags; the server's process and
// this process's descriptor limit are checked too, so that a run that
// cannot succeed is a usage error (exit 2).
func parseIdleFlags(args []string) (idleConfig, *flag.FlagSet, error) {
	var cfg idleConfig
	fs := flag.NewFlagSet("ringline idle", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported once, by runIdle
	fs.StringVar(&cfg.addr, "addr", "127.0.0.1:7878", "TCP address of the echo server (host:port)")
	fs.IntVar(&cfg.conns, "conns", 10000, "connections to make and hold idle")
	fs.DurationVar(&cfg.hold, "hold", 2*time.Second, "how long to hold them idle before reading the server's memory")
	fs.IntVar(&cfg.serverPID, "server-pid", 0, "the server's process id, whose memory is read from /proc/PID/status (required)")
	fs.BoolVar(&cfg.json, "json", false, "print the result as JSON")
	if err := fs.Parse(args); err != nil {
		return cfg, fs, err
	}
	if err := checkIdleConfig(cfg, fs.Args()); err != nil {
		return cfg, fs, err
	}
	return cfg, fs, nil
}

// checkIdleConfig checks parsed settings and the leftover arguments.
func checkIdleConfig(cfg idleConfig, rest []string) error {
	switch {
	case len(rest) > 0:
		return fmt.Errorf("unexpected argument %q", rest[0])
	case cfg.conns < 1:
		return fmt.Errorf("--conns %d: want at least 1", cfg.conns)
	case cfg.hold < 0:
		return fmt.Errorf("--hold %v: want 0 or more", cfg.hold)
	case cfg.serverPID == 0:
		return errors.New("--server-pid: required, the server's process id (its memory is read from /proc/PID/status)")
	case cfg.serverPID < 0:
		return fmt.Errorf("--server-pid %d: want a process id", cfg.serverPID)
	}
	if _, err := readProcMem(cfg.serverPID); err != nil {
		return fmt.Errorf("--server-pid %d: %w", cfg.serverPID, err)
	}
	return checkFileLimit(cfg.conns)
}

// checkFileLimit returns an error unless this process may hold conns
// connections: RLIMIT_NOFILE's hard limit must be at least conns+fdMargin.
// The soft limit needs no raising here: since Go 1.19 the runtime raises
// it at start to the hard limit less one, which the margin covers.
func checkFileLimit(conns int) error {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("reading RLIMIT_NOFILE: %w", err)
	}
	need := uint64(conns) + fdMargin
	if lim.Max < need {
		return fmt.Errorf("--conns %d needs %d descriptors (conns+%d), but the RLIMIT_NOFILE hard limit is %d: raise it (ulimit -Hn) or lower --conns",
			conns, need, fdMargin, lim.Max)
	}
	return nil
}

// runIdle makes the connections, holds them and reports; exit 1 when a
// connection failed to dial or echo, or the server's memory could not be
// read.
func runIdle(args []string, stdout, stderr io.Writer) int {
	cfg, fs, err := parseIdleFlags(args)
	if errors.Is(err, flag.ErrHelp) {
		fs.SetOutput(stderr)
		fmt.Fprintln(stderr, "usage: ringline idle [flags]")
		fs.PrintDefaults()
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "ringline idle: %v\n%s\n", err, idleHint)
		return 2
	}
	res, errs, err := idleRun(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "ringline idle: %v\n", err)
		return 1
	}
	if err := writeIdleResult(stdout, cfg, res); err != nil {
		fmt.Fprintf(stderr, "ringline idle: writing the result: %v\n", err)
		return 1
	}
	if errs.n > 0 {
		fmt.Fprintf(stderr, "ringline idle: %d of %d connections failed to dial or echo; first: %s\n", errs.n, cfg.conns, errs.samples[0])
		return 1
	}
	return 0
}

// procMem is a process's resident memory, from /proc/PID/status, in kB.
type procMem struct {
	rss, hwm int64 // VmRSS and VmHWM (its peak)
}

// readProcMem reads the VmRSS and VmHWM lines of /proc/PID/status.
func readProcMem(pid int) (procMem, error) {
	path := "/proc/" + strconv.Itoa(pid) + "/status"
	b, err := os.ReadFile(path)
	if err != nil {
		return procMem{}, fmt.Errorf("reading the memory of process %d: %w", pid, err)
	}
	var m procMem
	fields := map[string]*int64{"VmRSS": &m.rss, "VmHWM": &m.hwm}
	found := 0
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), ":")
		if p := fields[name]; ok && p != nil {
			if *p, err = parseKB(value); err != nil {
				return procMem{}, fmt.Errorf("%s: %s: %w", path, name, err)
			}
			found++
		}
	}
	if found < len(fields) {
		return procMem{}, fmt.Errorf("%s: no VmRSS or VmHWM line (a kernel thread, or a zombie?)", path)
	}
	return m, nil
}

// parseKB parses the value of a /proc/PID/status memory line, "  1234 kB".
func parseKB(s string) (int64, error) {
	num, unit, _ := strings.Cut(strings.TrimSpace(s), " ")
	if strings.TrimSpace(unit) != "kB" {
		return 0, fmt.Errorf("%q: want a size in kB", s)
	}
	return strconv.ParseInt(num, 10, 64)
}

// idleRun reads the server's baseline, makes and holds the connections,
// reads the server's memory again and closes them. The error is set, and
// nothing is reported, when no connection could be made or the server's
// memory could not be read; connections that failed otherwise are in the
// errorLog.
func idleRun(cfg idleConfig) (idleResult, errorLog, error) {
	base, err := readProcMem(cfg.serverPID)
	if err != nil {
		return idleResult{}, errorLog{}, fmt.Errorf("--server-pid %d: %w", cfg.serverPID, err)
	}
	conns, errs, err := dialIdle(cfg)
	if err != nil {
		return idleResult{}, errs, err
	}
	defer closeAll(conns)
	time.Sleep(cfg.hold)
	mem, err := readProcMem(cfg.serverPID)
	if err != nil {
		return idleResult{}, errs, fmt.Errorf("--server-pid %d after the hold: %w", cfg.serverPID, err)
	}
	return makeIdleResult(cfg, len(conns), int(errs.n), base, mem), errs, nil
}

// makeIdleResult turns the readings into the reported figures.
func makeIdleResult(cfg idleConfig, held, errs int, base, mem procMem) idleResult {
	return idleResult{
		Addr: cfg.addr, Conns: held, HoldS: cfg.hold.Seconds(),
		BaselineRSSkB: base.rss, RSSkB: mem.rss, HWMkB: mem.hwm,
		PerConnBytes: (mem.rss - base.rss) * 1024 / int64(held),
		Errors:       errs,
	}
}

// dialIdle makes cfg.conns connections, idleDialers at a time, each
// checked by a one-byte echo, and returns those that were served. The
// first is made alone: when it fails, nothing more is tried and the error
// says why.
func dialIdle(cfg idleConfig) ([]net.Conn, errorLog, error) {
	first, err := dialServed(cfg.addr, 0)
	if err != nil {
		return nil, errorLog{}, fmt.Errorf("no connection to %s could be made (is an echo server listening there?): %w", cfg.addr, err)
	}
	slots := make([]net.Conn, cfg.conns)
	slots[0] = first
	var (
		next atomic.Int64 // the next connection to dial, less one
		mu   sync.Mutex   // guards errs
		errs errorLog
		wg   sync.WaitGroup
	)
	for range min(idleDialers, cfg.conns-1) {
		wg.Go(func() {
			for id := int(next.Add(1)); id < cfg.conns; id = int(next.Add(1)) {
				c, err := dialServed(cfg.addr, id)
				if err != nil {
					mu.Lock()
					errs.add(err.Error())
					mu.Unlock()
					continue
				}
				slots[id] = c
			}
		})
	}
	wg.Wait()
	return compact(slots), errs, nil
}

// compact returns the connections of slots that were made, in order.
func compact(slots []net.Conn) []net.Conn {
	conns := slots[:0]
	for _, c := range slots {
		if c != nil {
			conns = append(conns, c)
		}
	}
	return conns
}

// dialServed dials addr and has the server echo one byte, which depends
// on id; it returns the connection idle, with no deadline, once the right
// byte came back.
func dialServed(addr string, id int) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", addr, dialTimeout)
	if err != nil {
		return nil, fmt.Errorf("conn %d: %w", id, err)
	}
	if err := echoOneByte(c, byte('a'+id%26)); err != nil {
		c.Close()
		return nil, fmt.Errorf("conn %d: %w", id, err)
	}
	return c, nil
}

// echoOneByte writes b on c and reads it back, within dialTimeout, then
// clears the deadline.
func echoOneByte(c net.Conn, b byte) error {
	c.SetDeadline(time.Now().Add(dialTimeout))
	if _, err := c.Write([]byte{b}); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	got := []byte{0}
	if _, err := io.ReadFull(c, got); err != nil {
		return fmt.Errorf("reading the echo: %w", err)
	}
	if got[0] != b {
		return fmt.Errorf("echo %q, want %q", got[0], b)
	}
	return c.SetDeadline(time.Time{})
}

// closeAll closes every connection.
func closeAll(conns []net.Conn) {
	for _, c := range conns {
		c.Close()
	}
}

// writeIdleResult prints the result: JSON with cfg.json, else one line.
func writeIdleResult(w io.Writer, cfg idleConfig, r idleResult) error {
	if cfg.json {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	_, err := fmt.Fprintf(w, "%d idle conns: server RSS %s (peak %s), %s per conn over the baseline of %s\n",
		r.Conns, fmtBytes(r.RSSkB*1024), fmtBytes(r.HWMkB*1024), fmtBytes(r.PerConnBytes), fmtBytes(r.BaselineRSSkB*1024))
	return err
}

// fmtBytes formats a byte count, which may be negative, in B, KiB or MiB.
func fmtBytes(n int64) string {
	abs := max(n, -n)
	switch {
	case abs < 1<<10:
		return fmt.Sprintf("%d B", n)
	case abs < 1<<20:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}
