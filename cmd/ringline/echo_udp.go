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
// ReadFromUDPAddrPort and WriteToUDPAddrPort on the one socket, which take
// the sender as a netip.AddrPort value: ReadFrom would allocate a
// *net.UDPAddr per datagram, a cost the runtime's echo does not pay.
func echoUDPNet(addr string, signals <-chan os.Signal, stdout, stderr io.Writer) int {
	lp, err := net.ListenPacket("udp", addr)
	if err != nil {
		fmt.Fprintf(stderr, "ringline echo: backend net: %v\n", err)
		return 1
	}
	pc := lp.(*net.UDPConn)
	n := runtime.GOMAXPROCS(0)
	fmt.Fprintf(stdout, "listening on %s backend=net workers=%d\n", pc.LocalAddr(), n)
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 65536)
			for {
				k, from, err := pc.ReadFromUDPAddrPort(buf)
				if errors.Is(err, net.ErrClosed) {
					return
				}
				if err == nil {
					pc.WriteToUDPAddrPort(buf[:k], from)
				}
			}
		}()
	}
	<-signals
	pc.Close()
	wg.Wait()
	return 0
}
