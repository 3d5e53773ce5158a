// Command gnet (built as echo_gnet by scripts/run) is an echo server on gnet v2
// (github.com/panjf2000/gnet/v2), a peer that ringline compare measures the
// ringline servers against (its --gnet-server flag, row "gnet").
//
//	cd bench/gnet && CGO_ENABLED=0 go build -o /tmp/echo_gnet .
//	/tmp/echo_gnet [--addr 127.0.0.1:0] [--workers 1]
//
// Its first line on stdout is "listening on HOST:PORT backend=gnet
// workers=N", the form every compare server prints; SIGINT or SIGTERM stops
// it.
//
// It is a module of its own, nested in the repository, so that gnet and
// what it pulls in (zap, ants, lumberjack ...) stay out of the library's
// go.mod: nothing in github.com/ringline-go/ringline depends on it, and the
// root module's "go build ./..." and "go mod tidy" skip it.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/panjf2000/gnet/v2"
)

// echoServer is the gnet event handler: it echoes every byte it reads.
type echoServer struct {
	gnet.BuiltinEventEngine
	workers int
	booted  chan gnet.Engine // receives the engine once it accepts connections
}

// OnBoot prints the listening line with the bound address (the port
// resolved when 0 was asked for) and hands the engine to the signal
// handler.
func (s *echoServer) OnBoot(eng gnet.Engine) gnet.Action {
	addr, err := listenAddr(eng)
	if err != nil {
		fmt.Fprintf(os.Stderr, "echo_gnet: finding the bound address: %v\n", err)
		return gnet.Shutdown
	}
	fmt.Printf("listening on %s backend=gnet workers=%d\n", addr, s.workers)
	s.booted <- eng
	return gnet.None
}

// OnTraffic writes back everything the connection has buffered: Next(-1)
// returns the inbound buffer without a copy, and Write queues it (or sends
// it at once) before the buffer is reused.
func (s *echoServer) OnTraffic(c gnet.Conn) gnet.Action {
	buf, _ := c.Next(-1)
	if _, err := c.Write(buf); err != nil {
		return gnet.Close
	}
	return gnet.None
}

// stderrLogger is gnet's logger sent to stderr: gnet's default one writes
// to stdout, whose first line must be the listening line.
type stderrLogger struct{ *log.Logger }

// Debugf drops gnet's debug messages.
func (stderrLogger) Debugf(string, ...any) {}

// Infof logs an informational message.
func (l stderrLogger) Infof(format string, args ...any) { l.Printf("info: "+format, args...) }

// Warnf logs a warning.
func (l stderrLogger) Warnf(format string, args ...any) { l.Printf("warning: "+format, args...) }

// Errorf logs an error.
func (l stderrLogger) Errorf(format string, args ...any) { l.Printf("error: "+format, args...) }

// listenAddr returns the engine's listening address as HOST:PORT, read with
// getsockname from a duplicate of the listener's descriptor.
func listenAddr(eng gnet.Engine) (string, error) {
	fd, err := eng.Dup()
	if err != nil {
		return "", err
	}
	defer syscall.Close(fd)
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		return "", fmt.Errorf("getsockname: %w", err)
	}
	switch sa := sa.(type) {
	case *syscall.SockaddrInet4:
		return net.JoinHostPort(net.IP(sa.Addr[:]).String(), strconv.Itoa(sa.Port)), nil
	case *syscall.SockaddrInet6:
		return net.JoinHostPort(net.IP(sa.Addr[:]).String(), strconv.Itoa(sa.Port)), nil
	}
	return "", fmt.Errorf("listener address of type %T, want TCP", sa)
}

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "address to listen on, HOST:PORT (port 0: any free port)")
	workers := flag.Int("workers", 1, "event loops (compare runs each server on one CPU)")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "echo_gnet: unexpected argument %q\n", flag.Arg(0))
		os.Exit(2)
	}
	if *workers < 1 {
		fmt.Fprintf(os.Stderr, "echo_gnet: --workers %d: want at least 1\n", *workers)
		os.Exit(2)
	}

	s := &echoServer{workers: *workers, booted: make(chan gnet.Engine, 1)}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	go stopOnSignal(ctx, s.booted)

	err := gnet.Run(s, "tcp://"+*addr,
		gnet.WithNumEventLoop(*workers),
		gnet.WithMulticore(*workers > 1),
		gnet.WithReusePort(false),
		gnet.WithTCPNoDelay(gnet.TCPNoDelay),
		gnet.WithLogger(stderrLogger{log.New(os.Stderr, "echo_gnet: gnet: ", 0)}),
	)
	if err != nil {
		fmt.Fprintf(os.Stderr, "echo_gnet: %v\n", err)
		os.Exit(1)
	}
}

// stopOnSignal waits for the engine to boot and for ctx to end (SIGINT or
// SIGTERM), then stops the engine, which makes gnet.Run return.
func stopOnSignal(ctx context.Context, booted <-chan gnet.Engine) {
	eng := <-booted
	<-ctx.Done()
	stopCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := eng.Stop(stopCtx); err != nil {
		fmt.Fprintf(os.Stderr, "echo_gnet: stopping: %v\n", err)
		os.Exit(1)
	}
}
