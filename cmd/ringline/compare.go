//go:build linux

package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// compareFlags are ringline compare's settings: bench's, plus which
// servers and how many interleaved rounds.
type compareFlags struct {
	conns, size, pipeline int
	duration, warmup      time.Duration
	client                string
	runs                  int
	servers               []string
	cServer               string // a plain C liburing echo server to add as the limit
	gnetServer            string // a gnet v2 echo server (bench/gnet, built) to add as a peer
	json, markdown        bool
	udp                   bool // datagram echo: --conns sockets of --size datagrams
}

// compareServers are the servers compare knows, in the order they run.
var compareServers = []string{"uring", "epoll", "net"}

func parseCompareFlags(args []string, stderr io.Writer) (compareFlags, error) {
	var f compareFlags
	var servers string
	fs := flag.NewFlagSet("ringline compare", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&f.conns, "conns", 128, "connections")
	fs.IntVar(&f.size, "size", 1024, "bytes per request")
	fs.IntVar(&f.pipeline, "pipeline", 8, "requests in flight per connection")
	fs.DurationVar(&f.duration, "duration", 5*time.Second, "measured time per run")
	fs.DurationVar(&f.warmup, "warmup", time.Second, "warm-up before each measured run")
	fs.StringVar(&f.client, "client", "ringline", "load generator client: ringline (the runtime: it coalesces pipelined requests, so the servers, not the client, are what saturates) or net")
	fs.IntVar(&f.runs, "runs", 3, "interleaved rounds; the median run of each server is reported")
	fs.StringVar(&servers, "servers", strings.Join(compareServers, ","), "servers to compare: uring, epoll, net (those unavailable here are reported and skipped)")
	fs.StringVar(&f.cServer, "c-server", "", "also compare this plain C liburing echo server (bench/echo_uring.c, built), row \"c\"")
	fs.StringVar(&f.gnetServer, "gnet-server", "", "also compare this gnet v2 echo server (bench/gnet, built), row \"gnet\"")
	fs.BoolVar(&f.json, "json", false, "print the results as JSON")
	fs.BoolVar(&f.markdown, "markdown", false, "print the table as Markdown")
	fs.BoolVar(&f.udp, "udp", false, "compare UDP echo servers instead (echo --udp, bench --udp): an op is one datagram echoed; net is Go's net.UDPConn with GOMAXPROCS goroutines on ReadFromUDPAddrPort/WriteToUDPAddrPort")
	if err := fs.Parse(args); err != nil {
		return f, err
	}
	for _, s := range strings.Split(servers, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		if !contains(compareServers, s) {
			return f, fmt.Errorf("--servers: unknown server %q (want uring, epoll, net)", s)
		}
		f.servers = append(f.servers, s)
	}
	switch {
	case fs.NArg() > 0:
		return f, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case f.conns < 1:
		return f, fmt.Errorf("--conns %d: want at least 1", f.conns)
	case f.size < 1:
		return f, fmt.Errorf("--size %d: want at least 1", f.size)
	case f.pipeline < 1:
		return f, fmt.Errorf("--pipeline %d: want at least 1", f.pipeline)
	case f.duration <= 0:
		return f, fmt.Errorf("--duration %v: want a positive duration", f.duration)
	case f.warmup < 0:
		return f, fmt.Errorf("--warmup %v: want 0 or more", f.warmup)
	case f.client != "net" && f.client != "ringline":
		return f, fmt.Errorf("--client %q: want net or ringline", f.client)
	case f.runs < 1:
		return f, fmt.Errorf("--runs %d: want at least 1", f.runs)
	case len(f.servers) == 0:
		return f, errors.New("--servers: no server named")
	case f.json && f.markdown:
		return f, errors.New("--json and --markdown: pick one")
	case f.udp && (f.cServer != "" || f.gnetServer != ""):
		return f, errors.New("--udp: the C and gnet servers echo TCP only")
	}
	return f, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// runCompare starts an echo server process per server kind, pinned to one
// CPU, and runs bench processes pinned to the others against each in turn,
// round after round, then prints one table of the median runs.
func runCompare(args []string, stdout, stderr io.Writer) int {
	f, err := parseCompareFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "ringline compare: %v\n", err)
		return 2
	}
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintf(stderr, "ringline compare: finding this program to start servers: %v\n", err)
		return 1
	}
	c := newComparison(f, exe, stderr)
	defer c.stopServers()
	if err := c.startServers(); err != nil {
		fmt.Fprintf(stderr, "ringline compare: %v\n", err)
		return 1
	}
	if err := c.runRounds(); err != nil {
		fmt.Fprintf(stderr, "ringline compare: %v\n", err)
		return 1
	}
	rows := c.summarize()
	switch {
	case f.json:
		err = writeCompareJSON(stdout, c, rows)
	case f.markdown:
		writeCompareMarkdown(stdout, c, rows)
	default:
		writeCompareText(stdout, c, rows)
	}
	if err != nil {
		fmt.Fprintf(stderr, "ringline compare: %v\n", err)
		return 1
	}
	for _, r := range rows {
		if r.Errors > 0 {
			fmt.Fprintf(stderr, "ringline compare: %s: %d echo errors (see the error samples)\n", r.Server, r.Errors)
			return 1
		}
	}
	return 0
}
