//go:build linux

package rio

import (
	"net"
	"net/netip"
	"testing"
	"time"
)

// A datagram Sent on a UDPConn that is then closed must not leave on the
// next socket given the same descriptor number.
func TestUDPConnQueuedSendNotOnReusedFd(t *testing.T) {
	forEachBackend(t, func(t *testing.T, cfg Config) {
		peer2, _ := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
		defer peer2.Close()
		gone, _ := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
		goneAddr := gone.LocalAddr().String()
		gone.Close()
		srv := startClient(t, Config{Backend: cfg.Backend, Workers: 1}, NopHandler{})
		did := false
		h1 := func(c UDPConn, data []byte, err error) {
			if err == nil || did {
				return
			}
			did = true
			c.Send([]byte("meant for the closed conn's peer"))
			c.Close()
			c.w.DialUDP("udp", peer2.LocalAddr().String(), func(UDPConn, []byte, error) {})
		}
		srv.Run(0, func(w *Worker) {
			c, _ := w.DialUDP("udp", goneAddr, h1)
			c.Send([]byte("anyone?"))
		})
		peer2.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		buf := make([]byte, 100)
		if n, err := peer2.Read(buf); err == nil {
			t.Errorf("the new conn's peer got %q", buf[:n])
		}
	})
}
