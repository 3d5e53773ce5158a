//go:build linux

package rio

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Several Sends in one iteration to a port nobody listens on: the error the
// handler hears should be ECONNREFUSED, not an invented EAGAIN.
func TestUDPConnSendErrorIsTheKernels(t *testing.T) {
	forEachBackend(t, func(t *testing.T, cfg Config) {
		gone, _ := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
		goneAddr := gone.LocalAddr().String()
		gone.Close()
		srv := startClient(t, Config{Backend: cfg.Backend, Workers: 1}, NopHandler{})
		var mu sync.Mutex
		var errs []error
		h := func(c UDPConn, data []byte, err error) {
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
		}
		srv.Run(0, func(w *Worker) {
			c, _ := w.DialUDP("udp", goneAddr, h)
			for range 4 {
				c.Send([]byte("x"))
			}
		})
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
			mu.Lock()
			n := len(errs)
			mu.Unlock()
			if n > 0 {
				break
			}
		}
		time.Sleep(50 * time.Millisecond) // let any further errors of the four sends arrive
		mu.Lock()
		defer mu.Unlock()
		if len(errs) == 0 {
			t.Fatal("no error heard for four datagrams to a closed port")
		}
		for _, err := range errs {
			if !errors.Is(err, syscall.ECONNREFUSED) {
				t.Errorf("heard %v, want only ECONNREFUSED", err)
			}
		}
	})
}
