//go:build linux

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"runtime"
	"sync"
	"syscall"

	"github.com/ringline-go/ringline/rio"
)

// echoFlags are ringline echo's settings: where to listen, the backend,
// the runtime's Config knobs, and how the handler echoes.
type echoFlags struct {
	addr    string
	unix    string
	backend string
	pin     bool
	mode    string
	udp     bool
	cfg     rio.Config // Workers, MaxConns, the pools, SendBudget, AccCap
}

// The echo handler styles --mode chooses.
var echoModes = map[string]rio.Handler{
	"copy-whole": copyWholeEcho{},
	"copy-some":  copySomeEcho{},
	"zerocopy":   zeroCopyEcho{},
}

func parseEchoFlags(args []string, stderr io.Writer) (echoFlags, error) {
	var f echoFlags
	fs := flag.NewFlagSet("ringline echo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.addr, "addr", "127.0.0.1:7878", "TCP address to listen on (host:port; port 0 picks one)")
	fs.StringVar(&f.unix, "unix", "", "listen on this Unix socket path instead of TCP")
	fs.StringVar(&f.backend, "backend", "auto", "auto, uring, epoll or net (Go's net package, a goroutine per connection)")
	fs.BoolVar(&f.pin, "pin", false, "pin each worker thread to its own CPU")
	fs.BoolVar(&f.udp, "udp", false, "echo UDP datagrams at --addr instead of a TCP stream")
	fs.StringVar(&f.mode, "mode", "zerocopy", "how the handler echoes: copy-whole (Send each chunk whole, or wait), copy-some (SendSome), zerocopy (Forward from the receive buffer)")
	fs.IntVar(&f.cfg.Workers, "workers", 0, "worker threads (0: one per usable CPU)")
	fs.IntVar(&f.cfg.MaxConns, "max-conns", 0, "connections per worker (0: the runtime's default); each needs a descriptor under RLIMIT_NOFILE")
	fs.IntVar(&f.cfg.BufEntries, "buf-entries", 0, "receive buffers per worker, a power of two (0: the runtime's default)")
	fs.IntVar(&f.cfg.BufSize, "buf-size", 0, "bytes per receive buffer (0: the runtime's default)")
	fs.IntVar(&f.cfg.SendSlots, "send-slots", 0, "send-pool slots per worker (0: the runtime's default)")
	fs.IntVar(&f.cfg.SendSlotSize, "send-slot-size", 0, "bytes per send-pool slot (0: the runtime's default)")
	fs.IntVar(&f.cfg.SendBudget, "send-budget", 0, "bytes one connection may have queued unsent (0: the runtime's default)")
	fs.IntVar(&f.cfg.AccCap, "acc-cap", 0, "unconsumed bytes one connection may hold (0: the runtime's default)")
	if err := fs.Parse(args); err != nil {
		return f, err
	}
	ringlineOnly := map[string]bool{"pin": true, "mode": true, "max-conns": true, "buf-entries": true, "buf-size": true,
		"send-slots": true, "send-slot-size": true, "send-budget": true, "acc-cap": true}
	var netRefused, negative string
	fs.Visit(func(fl *flag.Flag) {
		if f.backend == "net" && ringlineOnly[fl.Name] && netRefused == "" {
			netRefused = fl.Name
		}
		if g, ok := fl.Value.(flag.Getter); ok && negative == "" {
			if n, ok := g.Get().(int); ok && n < 0 {
				negative = fmt.Sprintf("--%s %d: want 0 or more", fl.Name, n)
			}
		}
	})
	switch {
	case fs.NArg() > 0:
		return f, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case f.backend != "auto" && f.backend != "uring" && f.backend != "epoll" && f.backend != "net":
		return f, fmt.Errorf("--backend %q: want auto, uring, epoll or net", f.backend)
	case echoModes[f.mode] == nil:
		return f, fmt.Errorf("--mode %q: want copy-whole, copy-some or zerocopy", f.mode)
	case negative != "":
		return f, errors.New(negative)
	case f.udp && f.unix != "":
		return f, errors.New("--udp serves an IP address: give --addr, not --unix")
	case netRefused != "":
		return f, fmt.Errorf("--%s needs a ringline backend: Go's net server has no workers, pools or modes", netRefused)
	}
	if f.backend != "net" {
		if err := f.cfg.Validate(); err != nil {
			return f, err
		}
	}
	return f, nil
}

// runEcho serves until SIGINT or SIGTERM (graceful), or a second signal
// (at once). The first line on stdout is
// "listening on ADDR backend=NAME workers=N".
func runEcho(args []string, stdout, stderr io.Writer) int {
	f, err := parseEchoFlags(args, stderr)
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(stderr, "ringline echo: %v\n", err)
			return 2
		}
		return 0
	}
	network, addr := "tcp", f.addr
	if f.unix != "" {
		network, addr = "unix", f.unix
	}
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(signals)
	switch {
	case f.udp && f.backend == "net":
		return echoUDPNet(addr, signals, stdout, stderr)
	case f.udp:
		return echoRingline(f, func(cfg rio.Config) (*rio.Server, error) {
			return rio.ListenUDP(context.Background(), "udp", addr, cfg, udpEcho{})
		}, signals, stdout, stderr)
	case f.backend == "net":
		return echoNet(network, addr, signals, stdout, stderr)
	}
	return echoRingline(f, func(cfg rio.Config) (*rio.Server, error) {
		return rio.Listen(context.Background(), network, addr, cfg, echoModes[f.mode])
	}, signals, stdout, stderr)
}

// backendNames are the --backend values that select a ringline backend.
var backendNames = map[string]rio.Backend{"auto": rio.BackendAuto, "uring": rio.BackendIOUring, "epoll": rio.BackendEpoll}

// echoRingline serves on the runtime, with the server listen starts.
func echoRingline(f echoFlags, listen func(rio.Config) (*rio.Server, error), signals <-chan os.Signal, stdout, stderr io.Writer) int {
	cfg := f.cfg
	cfg.Backend, cfg.Pin = backendNames[f.backend], f.pin
	srv, err := listen(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "ringline echo: backend %s: %v\n", f.backend, err)
		return 1
	}
	fmt.Fprintf(stdout, "listening on %s backend=%s workers=%d\n", srv.Addr(), srv.Backend(), srv.Workers())
	select {
	case <-signals:
	case <-srv.Done():
		return 0
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		select {
		case <-signals: // a second signal: close at once
			cancel()
		case <-ctx.Done():
		}
	}()
	err = srv.Shutdown(ctx)
	cancel()
	if err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintf(stderr, "ringline echo: shutdown: %v\n", err)
		return 1
	}
	return 0
}

// copySomeEcho echoes as much as the send pool and the connection's budget
// take; the rest is offered again when sends complete.
type copySomeEcho struct{ rio.NopHandler }

func (copySomeEcho) OnData(c rio.Conn, data []byte) int {
	n, _ := c.SendSome(data)
	return n
}

// copyWholeEcho copies each chunk it is given into the send pool whole, or
// takes none of it and is offered it again once the send could succeed.
type copyWholeEcho struct{ rio.NopHandler }

func (copyWholeEcho) OnData(c rio.Conn, data []byte) int {
	if c.Send(data) != nil {
		return 0
	}
	return len(data)
}

// zeroCopyEcho sends each chunk straight from the receive buffer it arrived
// in (Conn.Forward), whole, or takes none of it and is offered it again.
type zeroCopyEcho struct{ rio.NopHandler }

func (zeroCopyEcho) OnData(c rio.Conn, data []byte) int {
	if c.Forward(data) != nil {
		return 0
	}
	return len(data)
}

// echoNet is the baseline every Go user knows: Go's net package, one
// goroutine per connection. The first signal stops accepting and waits
// for the clients to leave; a second closes their connections.
func echoNet(network, addr string, signals <-chan os.Signal, stdout, stderr io.Writer) int {
	ln, err := net.Listen(network, addr)
	if err != nil {
		fmt.Fprintf(stderr, "ringline echo: backend net: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "listening on %s backend=net workers=%d\n", ln.Addr(), runtime.GOMAXPROCS(0))
	var (
		mu    sync.Mutex
		conns = map[net.Conn]struct{}{}
		wg    sync.WaitGroup
	)
	go func() {
		<-signals
		ln.Close()
		<-signals
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			break
		}
		mu.Lock()
		conns[c] = struct{}{}
		mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			echoLoop(c)
			c.Close()
			mu.Lock()
			delete(conns, c)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return 0
}

// echoLoop reads into one buffer and writes back what it read, as a plain
// Go echo server does (io.Copy would splice TCP to TCP in the kernel).
func echoLoop(c net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
