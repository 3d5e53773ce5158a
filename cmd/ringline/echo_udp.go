//go:build linux

package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"runtime"
	"sync"

	"github.com/ringline-go/ringline/rio"
)

// ringline echo --udp: every datagram goes back to its sender, on the
// runtime's UDP workers or, with --backend net, on Go's net package.

// udpEcho is the runtime's datagram echo: the reply is copied into the
// worker's datagram send pool; a refused one is dropped, as UDP may.
type udpEcho struct{}

func (udpEcho) OnDatagram(w *rio.Worker, from netip.AddrPort, data []byte) {
	_ = w.SendTo(data, from) // a refusal is counted in the worker's stats
}

// echoUDPNet is Go's net baseline: GOMAXPROCS goroutines, each looping on
// ReadFrom and WriteTo on the one socket.
func echoUDPNet(addr string, signals <-chan os.Signal, stdout, stderr io.Writer) int {
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		fmt.Fprintf(stderr, "ringline echo: backend net: %v\n", err)
		return 1
	}
	n := runtime.GOMAXPROCS(0)
	fmt.Fprintf(stdout, "listening on %s backend=net workers=%d\n", pc.LocalAddr(), n)
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 65536)
			for {
				k, from, err := pc.ReadFrom(buf)
				if errors.Is(err, net.ErrClosed) {
					return
				}
				if err == nil {
					pc.WriteTo(buf[:k], from)
				}
			}
		}()
	}
	<-signals
	pc.Close()
	wg.Wait()
	return 0
}
