//go:build linux

package rio_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"

	"github.com/ringline-go/ringline/rio"
)

// echo sends back what it receives, as much as the send pool takes now; the
// rest is offered to OnData again once sends complete.
type echo struct{ rio.NopHandler }

func (echo) OnData(c rio.Conn, data []byte) int {
	n, _ := c.SendSome(data)
	return n
}

// An echo server on a free loopback port, with one client.
func ExampleListen() {
	srv, err := rio.Listen(context.Background(), "tcp", "127.0.0.1:0", rio.Config{Workers: 1}, echo{})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	c, err := net.Dial("tcp", srv.Addr().String())
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "hello, rio")
	buf := make([]byte, len("hello, rio"))
	if _, err := io.ReadFull(c, buf); err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(buf))
	// Output: hello, rio
}
