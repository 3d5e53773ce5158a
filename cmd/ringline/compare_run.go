//go:build linux

package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// comparison is one run of ringline compare: the server processes, where
// they and the clients run, and the bench results gathered so far.
type comparison struct {
	f          compareFlags
	exe        string
	progress   io.Writer
	serverCPUs []int // the CPU the servers are pinned to; empty: not pinned
	clientCPUs []int // the CPUs the bench clients are pinned to
	servers    []*serverProc
	skipped    []skippedServer
}

// serverProc is one echo server process.
type serverProc struct {
	name   string // uring, epoll, net, c or gnet
	cmd    *exec.Cmd
	addr   string
	banner string // its first line
	stderr bytes.Buffer
	runs   []benchResult
}

// skippedServer is a server that could not start here, and why.
type skippedServer struct {
	Server string `json:"server"`
	Reason string `json:"reason"`
}

func newComparison(f compareFlags, exe string, progress io.Writer) *comparison {
	c := &comparison{f: f, exe: exe, progress: progress}
	if cpus := allowedCPUs(); len(cpus) >= 2 {
		c.serverCPUs = cpus[len(cpus)-1:]
		c.clientCPUs = cpus[:len(cpus)-1]
	}
	return c
}

// allowedCPUs lists the CPUs this process may run on.
func allowedCPUs() []int {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return nil
	}
	var cpus []int
	for i := 0; i < len(set)*64; i++ {
		if set.IsSet(i) {
			cpus = append(cpus, i)
		}
	}
	return cpus
}

// startPinned starts cmd with its CPU mask set to cpus (none: inherited).
// The child inherits the mask of the thread that forks it, so this thread
// is locked and masked for the Start, then restored.
func startPinned(cmd *exec.Cmd, cpus []int) error {
	if len(cpus) == 0 {
		return cmd.Start()
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var old, set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &old); err != nil {
		return fmt.Errorf("sched_getaffinity: %w", err)
	}
	for _, c := range cpus {
		set.Set(c)
	}
	if err := unix.SchedSetaffinity(0, &set); err != nil {
		return fmt.Errorf("sched_setaffinity: %w", err)
	}
	err := cmd.Start()
	if rerr := unix.SchedSetaffinity(0, &old); rerr != nil && err == nil {
		err = fmt.Errorf("restoring the CPU mask: %w", rerr)
	}
	return err
}

// startServers starts every server asked for; one that cannot start here
// (an unavailable backend) is recorded as skipped with its reason.
func (c *comparison) startServers() error {
	names := c.f.servers
	if c.f.cServer != "" {
		names = append(names[:len(names):len(names)], "c")
	}
	if c.f.gnetServer != "" {
		names = append(names[:len(names):len(names)], "gnet")
	}
	for _, name := range names {
		p := &serverProc{name: name}
		switch name {
		case "c":
			p.cmd = exec.Command(c.f.cServer, "0")
		case "gnet":
			p.cmd = exec.Command(c.f.gnetServer, "--addr", "127.0.0.1:0", "--workers", "1")
		case "net":
			p.cmd = exec.Command(c.exe, "echo", "--addr", "127.0.0.1:0", "--backend", name)
		default:
			p.cmd = exec.Command(c.exe, "echo", "--addr", "127.0.0.1:0", "--backend", name, "--workers", "1")
		}
		if c.f.udp {
			p.cmd.Args = append(p.cmd.Args, "--udp")
		}
		p.cmd.Stderr = &p.stderr
		out, err := p.cmd.StdoutPipe()
		if err == nil {
			err = startPinned(p.cmd, c.serverCPUs)
		}
		if err != nil {
			return fmt.Errorf("starting the %s server: %w", name, err)
		}
		line, err := readBanner(out, 10*time.Second)
		if err != nil {
			p.cmd.Process.Kill()
			p.cmd.Wait()
			c.skipped = append(c.skipped, skippedServer{name, firstLine(p.stderr.String(), err.Error())})
			continue
		}
		p.banner = line
		p.addr = strings.Fields(strings.TrimPrefix(line, "listening on "))[0]
		c.servers = append(c.servers, p)
	}
	if len(c.servers) == 0 {
		return fmt.Errorf("no server could start: %v", c.skipped)
	}
	return nil
}

// readBanner reads a server's first line, "listening on ADDR backend=...".
func readBanner(out io.Reader, limit time.Duration) (string, error) {
	got := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(out).ReadString('\n')
		got <- strings.TrimSpace(line)
	}()
	select {
	case line := <-got:
		if !strings.HasPrefix(line, "listening on ") {
			return "", fmt.Errorf("the server exited without listening")
		}
		return line, nil
	case <-time.After(limit):
		return "", fmt.Errorf("no listening line within %v", limit)
	}
}

func firstLine(s, fallback string) string {
	if s = strings.TrimSpace(s); s == "" {
		return fallback
	}
	return strings.SplitN(s, "\n", 2)[0]
}

// runRounds runs bench against every server, round after round, so that a
// drift of the machine hits all of them alike.
func (c *comparison) runRounds() error {
	total := c.f.runs * len(c.servers)
	step := 0
	for round := 1; round <= c.f.runs; round++ {
		for _, p := range c.servers {
			step++
			label := fmt.Sprintf("[%d/%d] %s run %d/%d", step, total, p.name, round, c.f.runs)
			r, err := c.bench(p, label)
			if err != nil {
				return fmt.Errorf("%s: %w", label, err)
			}
			p.runs = append(p.runs, r)
		}
	}
	fmt.Fprint(c.progress, "\r\033[K")
	return nil
}

// bench runs one bench process against p and decodes its JSON result.
func (c *comparison) bench(p *serverProc, label string) (benchResult, error) {
	f := c.f
	args := []string{"bench", "--json", "--addr", p.addr,
		"--conns", strconv.Itoa(f.conns), "--size", strconv.Itoa(f.size),
		"--pipeline", strconv.Itoa(f.pipeline), "--duration", f.duration.String(),
		"--warmup", f.warmup.String(), "--server-pid", strconv.Itoa(p.cmd.Process.Pid)}
	if f.udp {
		args = append(args, "--udp")
	} else {
		args = append(args, "--client", f.client)
	}
	cmd := exec.Command(c.exe, args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := startPinned(cmd, c.clientCPUs); err != nil {
		return benchResult{}, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	end := time.Now().Add(f.warmup + f.duration)
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			r, jerr := decodeBench(out.Bytes(), f.udp)
			if jerr != nil {
				return r, fmt.Errorf("bench gave no result (%v): %s", err, firstLine(errOut.String(), jerr.Error()))
			}
			return r, nil // a run with echo errors is reported, not dropped
		case <-tick.C:
			left := max(time.Until(end), 0).Round(time.Second)
			fmt.Fprintf(c.progress, "\r\033[Kcompare: %s: %v left", label, left)
		}
	}
}

// decodeBench reads a bench result; a UDP one becomes a row like the
// others, an op being a datagram echoed, its losses among the error
// samples (they are not errors: UDP may drop).
func decodeBench(out []byte, udp bool) (benchResult, error) {
	var r benchResult
	if !udp {
		return r, json.Unmarshal(out, &r)
	}
	var u udpBenchResult
	if err := json.Unmarshal(out, &u); err != nil {
		return r, err
	}
	r = benchResult{
		Addr: u.Addr, Client: "net", Conns: u.Conns, Size: u.Size, Pipeline: u.Pipeline, Seconds: u.Seconds,
		Ops: u.Datagrams, OpsPerSec: u.DatagramsPerSec, MBPerSec: u.DatagramsPerSec * float64(u.Size) / 1e6,
		P50us: u.P50us, P99us: u.P99us, Errors: u.Errors,
		ServerCPUSeconds: u.ServerCPUSeconds, OpsPerServerCPUSecond: u.DatagramsPerServerCPUSec,
	}
	if u.FirstError != "" {
		r.ErrorSamples = append(r.ErrorSamples, u.FirstError)
	}
	if u.Lost > 0 {
		r.ErrorSamples = append(r.ErrorSamples, fmt.Sprintf("%d datagrams lost (no reply within the timeout)", u.Lost))
	}
	return r, nil
}

// stopServers ends every server: SIGTERM, then SIGKILL after 10 s.
func (c *comparison) stopServers() {
	for _, p := range c.servers {
		p.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { p.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			p.cmd.Process.Kill()
			<-done
		}
	}
}
