//go:build linux

package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/ringline-go/ringline/internal/selfsigned"
	"github.com/ringline-go/ringline/rio"
	"github.com/ringline-go/ringline/rionet"
)

// ringline http: net/http served on the adapter (rionet) over the
// runtime's workers, or on Go's net with --backend net. GET / answers
// "hello, world\n"; GET /bytes?n=N answers N bytes.

// helloBody is GET /'s answer.
const helloBody = "hello, world\n"

// httpHandler is the server's routes.
func httpHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, helloBody) })
	chunk := make([]byte, 64<<10)
	for i := range chunk {
		chunk[i] = 'a' + byte(i%26)
	}
	mux.HandleFunc("GET /bytes", func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.Atoi(r.URL.Query().Get("n"))
		if err != nil || n < 0 || n > 1<<30 {
			http.Error(w, "want n=0..1073741824", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(n))
		for n > 0 {
			k, err := w.Write(chunk[:min(n, len(chunk))])
			if err != nil {
				return
			}
			n -= k
		}
	})
	return mux
}

func runHTTP(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ringline http", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on (port 0 picks one)")
	backend := fs.String("backend", "auto", "auto, uring, epoll (the adapter over the runtime) or net (Go's net)")
	workers := fs.Int("workers", 0, "worker threads (0: one per usable CPU); not with --backend net")
	useTLS := fs.Bool("tls", false, "serve HTTPS (HTTP/2 and HTTP/1.1) with a self-signed certificate made at start")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	switch {
	case fs.NArg() > 0:
		fmt.Fprintf(stderr, "ringline http: unexpected argument %q\n", fs.Arg(0))
		return 2
	case *backend != "net" && backendNames[*backend] == "":
		fmt.Fprintf(stderr, "ringline http: --backend %q: want auto, uring, epoll or net\n", *backend)
		return 2
	case *backend == "net" && *workers != 0:
		fmt.Fprintln(stderr, "ringline http: --workers needs a ringline backend")
		return 2
	}
	var ln net.Listener
	name := "net"
	if *backend == "net" {
		l, err := net.Listen("tcp", *addr)
		if err != nil {
			fmt.Fprintf(stderr, "ringline http: %v\n", err)
			return 1
		}
		ln = l
	} else {
		l, err := rionet.Listen(context.Background(), "tcp", *addr, rio.Config{Backend: backendNames[*backend], Workers: *workers})
		if err != nil {
			fmt.Fprintf(stderr, "ringline http: backend %s: %v\n", *backend, err)
			return 1
		}
		ln, name = l, l.Server().Backend()
	}
	srv := &http.Server{Handler: httpHandler(), ReadHeaderTimeout: 10 * time.Second}
	if *useTLS {
		cert, _, err := selfsigned.New("ringline http", 24*time.Hour)
		if err != nil {
			ln.Close()
			fmt.Fprintf(stderr, "ringline http: certificate: %v\n", err)
			return 1
		}
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	}
	fmt.Fprintf(stdout, "listening on %s backend=%s\n", ln.Addr(), name)
	served := make(chan error, 1)
	go func() {
		if *useTLS {
			served <- srv.ServeTLS(ln, "", "")
		} else {
			served <- srv.Serve(ln)
		}
	}()
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(signals)
	select {
	case <-signals:
	case err := <-served:
		fmt.Fprintf(stderr, "ringline http: %v\n", err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		srv.Close()
	}
	return 0
}
