//go:build linux && cgo

package ringline

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"runtime"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ringline-go/ringline/internal/gcchurn"
)

// The plain-descriptor helpers take the caller's user_data and must hand all
// 64 bits to the kernel untouched. The values below use every byte, and their
// top bytes are not tags the binding issues, so any repacking would show.
const (
	udAccept  = UserData(0xc1a0_0001_dead_beef)
	udRecv    = UserData(0xc2a0_0123_4567_89ab)
	udSendMsg = UserData(0xc3a0_00ff_fedc_ba98)
	udConnect = UserData(0xc4a0_7fff_0bad_cafe)
	udShut    = UserData(0xc5a0_0100_0000_0001)
	udClose   = UserData(0xc6a0_0200_ffff_ffff)
	udCancel  = UserData(0xc7a0_0300_1234_5678)
	udEventfd = UserData(0xc8a0_0400_8765_4321)
)

// addrKey renders an IPv4 or IPv6 socket address as addr:port, so addresses
// from different calls compare as values.
func addrKey(t testing.TB, sa unix.Sockaddr) string {
	t.Helper()
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(sa.Port)).String()
	case *unix.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr), uint16(sa.Port)).String()
	}
	t.Fatalf("address %T is neither IPv4 nor IPv6", sa)
	return ""
}

// One multishot accept on a plain listener, over IPv4 and IPv6 and with and
// without SOCK_NONBLOCK|SOCK_CLOEXEC, accepts two connections: each
// completion carries the caller's user_data untouched and IORING_CQE_F_MORE,
// and each result is a working socket, connected to one of the two clients,
// with O_NONBLOCK and FD_CLOEXEC set exactly when the flags asked for them.
func TestFdMultishotAccept(t *testing.T) {
	flagSets := []struct {
		name  string
		flags int
	}{{"NonblockCloexec", unix.SOCK_NONBLOCK | unix.SOCK_CLOEXEC}, {"NoFlags", 0}}
	for _, f := range families {
		for _, fs := range flagSets {
			t.Run(f.name+"/"+fs.name, func(t *testing.T) {
				r := newRing(t, RingConfig{Entries: 8})
				ln, sa := boundListener(t, f.family)
				must(t, r.SubmitMultishotAcceptFd(ln, fs.flags, udAccept))
				if cqes, err := r.Flush(); err != nil || len(cqes) != 0 {
					t.Fatalf("arming the accept: %d completions, %v; want none yet", len(cqes), err)
				}
				clients := map[string]int{} // local address -> client socket
				for range 2 {
					c := mustSocket(t, f.family, unix.SOCK_STREAM)
					closeAtEnd(t, c)
					must(t, unix.Connect(c, sa))
					local, err := unix.Getsockname(c)
					must(t, err)
					clients[addrKey(t, local)] = c
				}
				for _, c := range reap(t, r, 2) {
					if c.UserData != udAccept || c.Res < 0 || !c.More() {
						t.Fatalf("completion %#x res %d flags %#x: want %#x, a descriptor and MORE", uint64(c.UserData), c.Res, c.Flags, uint64(udAccept))
					}
					fd := int(c.Res)
					closeAtEnd(t, fd)
					peer, err := unix.Getpeername(fd)
					must(t, err)
					client, ok := clients[addrKey(t, peer)]
					if !ok {
						t.Fatalf("accepted a connection from %s, which is no client left", addrKey(t, peer))
					}
					delete(clients, addrKey(t, peer))
					fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
					must(t, err)
					fdfl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
					must(t, err)
					nonblock, cloexec := fl&unix.O_NONBLOCK != 0, fdfl&unix.FD_CLOEXEC != 0
					if nonblock != (fs.flags&unix.SOCK_NONBLOCK != 0) || cloexec != (fs.flags&unix.SOCK_CLOEXEC != 0) {
						t.Fatalf("accepted fd: O_NONBLOCK %v, FD_CLOEXEC %v; flags %#x asked otherwise", nonblock, cloexec, fs.flags)
					}
					_, err = unix.Write(fd, []byte("accepted"))
					must(t, err)
					if got := readN(t, client, 8); string(got) != "accepted" {
						t.Fatalf("client read %q", got)
					}
				}
			})
		}
	}
}

// A multishot recv on a plain socket, over IPv4 and IPv6, reports each of two
// writes under the caller's user_data with IORING_CQE_F_MORE (it stays armed
// across them), each in a distinct buffer of the provided group, named by the
// completion's buffer id, holding exactly the bytes written and nothing after.
func TestFdMultishotRecv(t *testing.T) {
	for _, f := range families {
		t.Run(f.name, func(t *testing.T) {
			r := newRing(t, RingConfig{Entries: 8})
			client, server := tcpPair(t, f.family)
			closeAtEnd(t, client, server)
			br, err := r.RegisterBufRing(7, 4, 64)
			must(t, err)
			must(t, r.SubmitMultishotRecvFd(server, br.Group(), udRecv))
			seen := map[uint16]bool{}
			for _, msg := range []string{"first write", "the second, longer write"} {
				_, err := unix.Write(client, []byte(msg))
				must(t, err)
				c := reapOne(t, r)
				bid, ok := c.BufferID()
				if c.UserData != udRecv || c.Res != int32(len(msg)) || !ok || !c.More() {
					t.Fatalf("completion %#x res %d flags %#x: want %#x, %d bytes in a provided buffer, MORE", uint64(c.UserData), c.Res, c.Flags, uint64(udRecv), len(msg))
				}
				if bid >= 4 || seen[bid] {
					t.Fatalf("buffer id %d: want a fresh one of the group's 4 (seen %v)", bid, seen)
				}
				seen[bid] = true
				buf := br.Buffer(bid)
				if string(buf[:c.Res]) != msg || !bytes.Equal(buf[c.Res:], make([]byte, len(buf)-int(c.Res))) {
					t.Fatalf("buffer %d holds %q, want exactly %q", bid, buf, msg)
				}
			}
		})
	}
}

// A sendmsg of two arena iovecs on a plain socket, over IPv4 and IPv6,
// completes under the caller's user_data with the total count, and the peer
// reads the first iovec's bytes followed by the second's.
func TestFdSendMsg(t *testing.T) {
	for _, f := range families {
		t.Run(f.name, func(t *testing.T) {
			r, a := newRingArena(t, RingConfig{Entries: 4}, 4096)
			client, server := tcpPair(t, f.family)
			closeAtEnd(t, client, server)
			msg := gatherMsg(t, a, "head:", "and the tail")
			must(t, r.SubmitSendMsgFd(client, msg, unix.MSG_NOSIGNAL, udSendMsg))
			wantRes(t, reapOne(t, r), udSendMsg, 17)
			if got := readN(t, server, 17); string(got) != "head:and the tail" {
				t.Fatalf("peer read %q", got)
			}
		})
	}
}

// SetIovec points a reused arena iovec at pinned Go memory, a fresh
// buffer each round that is garbage once sent, while the collector runs
// without pause; every sendmsg sends its own buffer. Assigning iov.Base
// instead shades the old, freed buffer's address and the runtime throws
// "found bad pointer in Go heap".
func TestSetIovecPinnedGoMemory(t *testing.T) {
	r, a := newRingArena(t, RingConfig{Entries: 4}, 4096)
	client, server := tcpPair(t, unix.AF_INET)
	closeAtEnd(t, client, server)
	msg, iov, err := a.Msghdr(1)
	must(t, err)
	gcchurn.Start(t)
	const rounds, size = 2000, 40 << 10 // a large object: a span of its own, freed whole
	for i := range rounds {
		buf := make([]byte, size)
		buf[0], buf[size-1] = byte(i), byte(i)
		var pin runtime.Pinner
		pin.Pin(&buf[0])
		SetIovec(&iov[0], buf)
		must(t, r.SubmitSendMsgFd(client, msg, unix.MSG_NOSIGNAL, udSendMsg))
		wantRes(t, reapOne(t, r), udSendMsg, size)
		pin.Unpin()
		if got := readN(t, server, size); got[0] != byte(i) || got[size-1] != byte(i) {
			t.Fatalf("round %d: peer read %d and %d at the ends", i, got[0], got[size-1])
		}
	}
}

// A connect of a plain socket to an arena sockaddr, over IPv4 and IPv6,
// completes under the caller's user_data with 0; getpeername then gives the
// listener's address, and the connection the listener accepts has this
// socket as its peer.
func TestFdConnect(t *testing.T) {
	for _, f := range families {
		t.Run(f.name, func(t *testing.T) {
			r, a := newRingArena(t, RingConfig{Entries: 4}, 4096)
			ln, sa := boundListener(t, f.family)
			s := mustSocket(t, f.family, unix.SOCK_STREAM)
			closeAtEnd(t, s)
			raw, err := a.Sockaddr(sa)
			must(t, err)
			must(t, r.SubmitConnectFd(s, raw, udConnect))
			wantRes(t, reapOne(t, r), udConnect, 0)
			peer, err := unix.Getpeername(s)
			must(t, err)
			if addrKey(t, peer) != addrKey(t, sa) {
				t.Fatalf("getpeername %s, want the listener's %s", addrKey(t, peer), addrKey(t, sa))
			}
			conn, _, err := unix.Accept4(ln, unix.SOCK_CLOEXEC)
			must(t, err)
			closeAtEnd(t, conn)
			local, err := unix.Getsockname(s)
			must(t, err)
			remote, err := unix.Getpeername(conn)
			must(t, err)
			if addrKey(t, local) != addrKey(t, remote) {
				t.Fatalf("accepted peer %s, want the connected socket %s", addrKey(t, remote), addrKey(t, local))
			}
		})
	}
}

// shutdown(SHUT_WR) of a plain socket completes under the caller's user_data
// with 0; the peer reads what was sent before it and then EOF, and the other
// direction still carries data.
func TestFdShutdown(t *testing.T) {
	r := newRing(t, RingConfig{Entries: 4})
	client, server := tcpPair(t, unix.AF_INET6)
	closeAtEnd(t, client, server)
	rcvTimeout(t, client, 5)
	rcvTimeout(t, server, 5)
	_, err := unix.Write(client, []byte("last"))
	must(t, err)
	must(t, r.SubmitShutdownFd(client, unix.SHUT_WR, udShut))
	wantRes(t, reapOne(t, r), udShut, 0)
	if got := readN(t, server, 4); string(got) != "last" {
		t.Fatalf("peer read %q before EOF", got)
	}
	if n, err := readRetry(server, make([]byte, 1)); n != 0 || err != nil {
		t.Fatalf("peer read %d, %v after shutdown; want EOF", n, err)
	}
	_, err = unix.Write(server, []byte("back"))
	must(t, err)
	if got := readN(t, client, 4); string(got) != "back" {
		t.Fatalf("shut-down socket read %q", got)
	}
}

// A close of a plain descriptor (a pipe's only write end) completes under
// the caller's user_data with 0; the descriptor is gone (F_GETFD gives EBADF)
// and the (non-blocking) reader sees EOF rather than EAGAIN.
func TestFdClose(t *testing.T) {
	r := newRing(t, RingConfig{Entries: 4})
	var p [2]int
	must(t, unix.Pipe2(p[:], unix.O_CLOEXEC|unix.O_NONBLOCK))
	closeAtEnd(t, p[0])
	writerOpen := true
	t.Cleanup(func() {
		if writerOpen { // never close a number the ring closed: it may be reused
			unix.Close(p[1])
		}
	})
	must(t, r.SubmitCloseFd(p[1], udClose))
	c := reapOne(t, r)
	writerOpen = c.Res != 0
	wantRes(t, c, udClose, 0)
	if _, err := unix.FcntlInt(uintptr(p[1]), unix.F_GETFD, 0); err != unix.EBADF {
		t.Fatalf("F_GETFD on the closed descriptor: %v, want EBADF", err)
	}
	if n, err := readRetry(p[0], make([]byte, 1)); n != 0 || err != nil {
		t.Fatalf("reader got %d, %v; want EOF", n, err)
	}
}

// Cancelling an armed multishot recv by its user_data: the cancel completes
// under its own user_data with 0 and the recv under its user_data with
// -ECANCELED and no IORING_CQE_F_MORE; data written afterwards stays in the
// socket, reported by no completion. A second cancel matches nothing: -ENOENT.
func TestFdCancel(t *testing.T) {
	r := newRing(t, RingConfig{Entries: 8})
	client, server := tcpPair(t, unix.AF_INET)
	closeAtEnd(t, client, server)
	rcvTimeout(t, server, 5)
	br, err := r.RegisterBufRing(3, 4, 64)
	must(t, err)
	must(t, r.SubmitMultishotRecvFd(server, br.Group(), udRecv))
	if cqes, err := r.Flush(); err != nil || len(cqes) != 0 {
		t.Fatalf("arming the recv: %d completions, %v; want none yet", len(cqes), err)
	}
	must(t, r.SubmitCancel(udRecv, udCancel))
	byUD := map[UserData]Completion{}
	for _, c := range reap(t, r, 2) {
		byUD[c.UserData] = c
	}
	wantRes(t, byUD[udCancel], udCancel, 0)
	wantRes(t, byUD[udRecv], udRecv, -int32(syscall.ECANCELED))
	if c := byUD[udRecv]; c.More() {
		t.Fatalf("cancelled recv still has MORE (flags %#x)", c.Flags)
	}

	_, err = unix.Write(client, []byte("late"))
	must(t, err)
	cqes, err := r.SubmitAndWaitTimeout(1, 50*time.Millisecond)
	if err != nil || len(cqes) != 0 {
		t.Fatalf("after the cancel: %d completions, %v; want none", len(cqes), err)
	}
	if got := readN(t, server, 4); string(got) != "late" {
		t.Fatalf("socket held %q, want the bytes no recv took", got)
	}

	must(t, r.SubmitCancel(udRecv, udCancel))
	wantRes(t, reapOne(t, r), udCancel, -int32(syscall.ENOENT))
}

// An eventfd read armed before the write completes under the caller's
// user_data with 8 once the counter is written, and its arena buffer holds
// the counter. A buffer shorter than 8 bytes is refused with an error and
// nothing queued, and inside an open chain the refusal drops the chain whole,
// so the kernel never sees any of it.
func TestFdEventfdReadUD(t *testing.T) {
	r, a := newRingArena(t, RingConfig{Entries: 4}, 4096)
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC)
	must(t, err)
	closeAtEnd(t, efd)
	buf, err := a.Alloc(8, 8)
	must(t, err)
	must(t, r.SubmitEventfdReadUD(efd, buf, udEventfd))
	if cqes, err := r.Flush(); err != nil || len(cqes) != 0 {
		t.Fatalf("arming the read: %d completions, %v; want none yet", len(cqes), err)
	}
	const counter = 0x0102_0304_0506_0708
	var add [8]byte
	binary.NativeEndian.PutUint64(add[:], counter)
	_, err = unix.Write(efd, add[:])
	must(t, err)
	wantRes(t, reapOne(t, r), udEventfd, 8)
	if v := binary.NativeEndian.Uint64(buf); v != counter {
		t.Fatalf("buffer holds %#x, want the counter %#x", v, uint64(counter))
	}

	for _, short := range [][]byte{nil, buf[:7]} {
		if err := r.SubmitEventfdReadUD(efd, short, udEventfd); err == nil || r.Pending() != 0 {
			t.Fatalf("%d-byte buffer: err %v, %d queued; want an error and nothing queued", len(short), err, r.Pending())
		}
	}
	must(t, r.Link(2))
	must(t, r.SubmitNop(UserData(0xc9a0_0500_0000_0009)))
	if err := r.SubmitEventfdReadUD(efd, buf[:4], udEventfd); err == nil || r.Pending() != 0 {
		t.Fatalf("4-byte buffer in a chain: err %v, %d queued; want an error and the chain dropped", err, r.Pending())
	}
	if cqes, err := r.Flush(); err != nil || len(cqes) != 0 {
		t.Fatalf("after the refusals: %d completions, %v; want none", len(cqes), err)
	}
}

// SubmitTLSSend on a fixed-file socket (slot 3 of 4), over IPv4 and IPv6,
// sends all its arena bytes and completes with the count under the user_data
// its doc describes: TagTLSSend in bits 63..56, conn (the fixed-file slot) in
// 55..32 and the pool slot in 31..0, here 0xffff to show the 16-bit slot
// arrives whole. A conn outside the table is refused with ErrSlotRange and
// nothing queued.
func TestTLSSend(t *testing.T) {
	for _, f := range families {
		t.Run(f.name, func(t *testing.T) {
			r, a := newRingArena(t, RingConfig{Entries: 4}, 4096)
			ours, peer := tcpPair(t, f.family)
			closeAtEnd(t, peer)
			registerFds(t, r, 4)
			toRing(t, r, 3, ours)
			buf, err := a.Alloc(517, 8)
			must(t, err)
			copy(buf, pattern(len(buf)))
			must(t, r.SubmitTLSSend(3, buf, 0xffff))
			want := UserData(uint64(TagTLSSend)<<56 | 3<<32 | 0xffff)
			wantRes(t, reapOne(t, r), want, int32(len(buf)))
			if got := readN(t, peer, len(buf)); !bytes.Equal(got, pattern(len(buf))) {
				t.Fatal("peer received different bytes")
			}
			if err := r.SubmitTLSSend(4, buf, 1); !errors.Is(err, ErrSlotRange) || r.Pending() != 0 {
				t.Fatalf("SubmitTLSSend(4) in a 4-slot table: %v, %d queued; want ErrSlotRange, nothing queued", err, r.Pending())
			}
		})
	}
}
