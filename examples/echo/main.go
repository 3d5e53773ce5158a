//go:build linux

// Command echo is the README's quick start: an echo server on ringline.
package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"os/signal"

	"github.com/ringline-go/ringline"
)

// echo sends back what it receives, as much as the send pool takes now; the
// rest is offered again once sends complete.
type echo struct{ ringline.NopHandler }

func (echo) OnData(c ringline.Conn, data []byte) int {
	n, _ := c.SendSome(data)
	return n
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	srv, err := ringline.Listen(ctx, "tcp", "127.0.0.1:7878", ringline.Config{}, echo{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("listening on", srv.Addr(), "backend", srv.Backend())
	srv.Wait() // Ctrl-C: graceful shutdown, then Wait returns
}
