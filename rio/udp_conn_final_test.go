//go:build linux

package rio

import (
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ringline-go/ringline/internal/backend"
)

// finalRecvBackend makes the first datagram of a UDPConn's receive its
// last, as io_uring does when a multishot recvmsg ends on a datagram (a
// full completion queue), and counts the cancels aimed at such receives.
type finalRecvBackend struct {
	backend.Backend
	ended   *atomic.Bool
	cancels *atomic.Int32
}

func (b finalRecvBackend) Wait(min int, timeout time.Duration) ([]backend.Completion, error) {
	cs, err := b.Backend.Wait(min, timeout)
	for i := range cs {
		if o, _, _ := parseUserData(cs[i].UserData); o == opUDPConnRecv && cs[i].Flags&backend.FlagBuffer != 0 && !b.ended.Swap(true) {
			cs[i].Flags &^= backend.FlagMore
		}
	}
	return cs, err
}

func (b finalRecvBackend) Cancel(target, ud uint64) error {
	if o, _, _ := parseUserData(target); o == opUDPConnRecv {
		b.cancels.Add(1)
	}
	return b.Backend.Cancel(target, ud)
}

// A UDPConn closed by its handler on the datagram that ended its receive
// is finished at once, with no cancel of the receive that is over. On
// epoll, whose receive goes on, the test stands in for io_uring's end.
func TestUDPConnCloseOnFinalDatagram(t *testing.T) {
	peer, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	var ended atomic.Bool
	var cancels atomic.Int32
	testHookBackend = func(b backend.Backend) (backend.Backend, error) {
		return finalRecvBackend{b, &ended, &cancels}, nil
	}
	srv := startClient(t, Config{Backend: BackendEpoll, Workers: 1}, NopHandler{})
	testHookBackend = nil
	got := make(chan string, 1)
	h := func(c UDPConn, data []byte, err error) {
		if err != nil {
			t.Error(err)
			return
		}
		got <- string(data)
		if err := c.Close(); err != nil {
			t.Error(err)
		}
	}
	srv.Run(0, func(w *Worker) {
		c, err := w.DialUDP("udp", peer.LocalAddr().String(), h)
		if err == nil {
			err = c.Send([]byte("hello"))
		}
		if err != nil {
			t.Error(err)
		}
	})
	peer.SetReadDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 16)
	n, from, err := peer.ReadFromUDPAddrPort(buf)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := peer.WriteToUDPAddrPort(buf[:n], from); err != nil {
		t.Fatal(err)
	}
	select {
	case s := <-got:
		if s != "hello" {
			t.Fatalf("handler got %q", s)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("no datagram")
	}
	open := make(chan int, 1)
	srv.Run(0, func(w *Worker) { open <- w.uconns.inUse() })
	if n := <-open; n != 0 {
		t.Errorf("%d UDPConns left after Close", n)
	}
	if n := cancels.Load(); n != 0 {
		t.Errorf("%d cancels of an ended receive", n)
	}
}
