//go:build linux

package rio

import (
	"math/rand/v2"
	"net"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ringline-go/ringline/internal/backend"
)

// eagainBackend answers the first sends of a worker with an injected
// -EAGAIN instead of sending, so the worker's POLLOUT path runs against the
// real socket and the real dispatch.
type eagainBackend struct {
	backend.Backend
	left *atomic.Int32 // sends still to refuse
}

func (b eagainBackend) SendMsg(fd int, msg *unix.Msghdr, ud uint64) error {
	if b.left.Add(-1) >= 0 {
		return b.Inject(ud, -int32(syscall.EAGAIN))
	}
	return b.Backend.SendMsg(fd, msg, ud)
}

// TestSendEAGAINWaitsForPollOut checks that a send answered with EAGAIN
// waits for POLLOUT and is then sent again, with nothing lost or reordered.
func TestSendEAGAINWaitsForPollOut(t *testing.T) {
	forEachBackend(t, func(t *testing.T, cfg Config) {
		var left atomic.Int32
		left.Store(5)
		testHookBackend = func(b backend.Backend) (backend.Backend, error) { return eagainBackend{b, &left}, nil }
		defer func() { testHookBackend = nil }()
		cfg.Workers = 1
		srv := serve(t, "tcp", "127.0.0.1:0", cfg, echoHandler{})
		requireInject(t, srv)
		c, err := net.Dial("tcp", srv.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(30 * time.Second))
		r := rand.New(rand.NewPCG(1, 2))
		for range 8 { // one message at a time, so each echo is its own send
			if err := echoClient(c, randomMessages(r, 1, 4096)); err != nil {
				t.Fatal(err)
			}
		}
		if got := srv.Stats().Total().PollOutWaits; got != 5 {
			t.Errorf("PollOutWaits = %d, want 5", got)
		}
	})
}
