//go:build linux

package rio

import (
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"
)

// A send of a closed UDPConn that fails after the slot was reused must not
// reach the new connection's handler.
func TestUDPConnSendErrorGoesToItsConn(t *testing.T) {
	forEachBackend(t, func(t *testing.T, cfg Config) {
		peer, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
		if err != nil {
			t.Fatal(err)
		}
		defer peer.Close()
		gone, _ := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
		goneAddr := gone.LocalAddr().String()
		gone.Close()
		srv := startClient(t, Config{Backend: cfg.Backend, Workers: 1}, NopHandler{})
		var newConnErrs atomic.Int64
		var firstNewErr atomic.Value
		h2 := func(c UDPConn, data []byte, err error) {
			if err != nil {
				newConnErrs.Add(1)
				firstNewErr.CompareAndSwap(nil, err.Error())
			}
		}
		var did atomic.Bool
		h1 := func(c UDPConn, data []byte, err error) {
			if err == nil || did.Load() {
				return
			}
			did.Store(true)
			c.Send([]byte("1"))
			c.Send([]byte("2"))
			c.Send([]byte("3"))
			c.Close()
			if _, err := c.w.DialUDP("udp", peer.LocalAddr().String(), h2); err != nil {
				t.Error(err)
			}
		}
		srv.Run(0, func(w *Worker) {
			c, err := w.DialUDP("udp", goneAddr, h1)
			if err == nil {
				err = c.Send([]byte("anyone?"))
			}
			if err != nil {
				t.Error(err)
			}
		})
		time.Sleep(300 * time.Millisecond)
		st := srv.Stats().Total()
		t.Logf("did %v; new conn got %d errors (%v); send errors %d", did.Load(), newConnErrs.Load(), firstNewErr.Load(), st.DatagramSendErrors)
		if newConnErrs.Load() > 0 {
			t.Errorf("the new UDPConn got %d send errors of the closed one: %v", newConnErrs.Load(), firstNewErr.Load())
		}
	})
}
