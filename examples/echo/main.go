//go:build linux

// Command echo is the README's quick start: an echo server on ringline.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"

	"github.com/ringline-go/ringline/rio"
)

// echo sends back what it receives, as much as the send pool takes now; the
// rest is offered again once sends complete.
type echo struct{ rio.NopHandler }

func (echo) OnData(c rio.Conn, data []byte) int {
	n, _ := c.SendSome(data)
	return n
}

func main() {
	addr := flag.String("addr", "127.0.0.1:7878", "address to listen on (port 0: any free port)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	srv, err := rio.Listen(ctx, "tcp", *addr, rio.Config{}, echo{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("listening on", srv.Addr(), "backend", srv.Backend())
	srv.Wait() // Ctrl-C: graceful shutdown, then Wait returns
}
