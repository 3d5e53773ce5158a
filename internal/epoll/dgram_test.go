//go:build linux

package epoll

import (
	"testing"

	"golang.org/x/sys/unix"

	"github.com/ringline-go/ringline/internal/backend"
)

// TestFlushDgramsFullSocket queues more datagrams than the sending socket
// has room for: each still gets exactly one completion, in order, the ones
// that went out with their length and every one after the buffer filled
// with -EAGAIN.
func TestFlushDgramsFullSocket(t *testing.T) {
	be, err := New(backend.Config{Entries: 8, BufEntries: 2, BufSize: 64})
	if err != nil {
		t.Fatal(err)
	}
	defer be.Close()
	b := be.(*Backend)
	// A unix datagram pair: a sent datagram stays charged to the sender
	// until it is read, so a small send buffer fills (loopback UDP frees
	// it at once and never would).
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds[0])
	defer unix.Close(fds[1])
	if err := unix.SetsockoptInt(fds[0], unix.SOL_SOCKET, unix.SO_SNDBUF, 1); err != nil {
		t.Fatal(err)
	}
	const n, size = 48, 1024
	data := make([]byte, size)
	iov := unix.Iovec{Base: &data[0]}
	iov.SetLen(size)
	msg := unix.Msghdr{Iov: &iov, Iovlen: 1}
	for i := range n {
		if err := b.SendDgram(fds[0], &msg, uint64(i)); err != nil {
			t.Fatal(err)
		}
	}
	b.flushDgrams()
	if len(b.ready) != n {
		t.Fatalf("%d completions for %d datagrams", len(b.ready), n)
	}
	sent := 0
	for i, c := range b.ready {
		switch {
		case c.UserData != uint64(i):
			t.Fatalf("completion %d is for datagram %d", i, c.UserData)
		case c.Res == size && sent == i:
			sent++
		case c.Res != -int32(unix.EAGAIN):
			t.Fatalf("datagram %d completed with %d after %d sent, want %d or -EAGAIN", i, c.Res, sent, size)
		}
	}
	if sent == 0 || sent == n {
		t.Fatalf("%d of %d datagrams sent: the buffer should take some, not all", sent, n)
	}
}
