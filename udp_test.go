//go:build linux && cgo

package ringline

import (
	"bytes"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/ringline-go/ringline/internal/offheap"
)

// A sendmsg with a destination reaches a multishot recvmsg, whose buffer
// carries the source address and the payload as the template lays them out.
func TestUDPSendMsgToRecvMsgMultishot(t *testing.T) {
	for _, f := range families {
		t.Run(f.name, func(t *testing.T) {
			r, a := newRingArena(t, RingConfig{Entries: 8}, 8192)
			sender, receiver := udpPair(t, f.family)
			from, err := unix.Getsockname(sender)
			must(t, err)
			to, err := unix.Getsockname(receiver)
			must(t, err)
			registerFds(t, r, 2, sender, receiver)
			br, err := r.RegisterBufRing(7, 8, 256)
			must(t, err)

			tmpl, _, err := a.Msghdr(0)
			must(t, err)
			tmpl.Namelen = unix.SizeofSockaddrInet6
			recvUD := ud(t, TagUDPRecvMsg, 1, 0)
			must(t, r.SubmitUDPRecvMsgMultishot(1, tmpl, br.Group(), recvUD))

			msg, iov, err := a.Msghdr(1)
			must(t, err)
			dst, err := a.Sockaddr(to)
			must(t, err)
			msg.Name, msg.Namelen = &dst[0], uint32(len(dst))
			payload, err := a.Alloc(100, 1)
			must(t, err)
			copy(payload, pattern(100))
			SetIovec(&iov[0], payload)
			for i := range 3 {
				must(t, r.SubmitUDPSendMsg(0, msg, ud(t, TagUDPSendMsg, 0, uint32(i))))
			}
			srcWant, err := offheap.RawSockaddr(from)
			must(t, err)
			sends, recvs := 0, 0
			for sends < 3 || recvs < 3 {
				c := reapOne(t, r)
				switch c.UserData.Tag() {
				case TagUDPSendMsg:
					wantRes(t, c, ud(t, TagUDPSendMsg, 0, uint32(sends)), 100)
					sends++
				case TagUDPRecvMsg:
					bid, ok := c.BufferID()
					if c.UserData != recvUD || c.Res <= 0 || !ok || !c.More() {
						t.Fatalf("recvmsg completion res %d flags %#x", c.Res, c.Flags)
					}
					out, err := ParseRecvMsgOut(br.Buffer(bid)[:c.Res], tmpl.Namelen, 0)
					must(t, err)
					if !bytes.Equal(out.Payload, payload) || out.PayloadLen != 100 || !bytes.Equal(out.Name, srcWant) {
						t.Fatalf("datagram payload %d bytes from %x; want 100 bytes from %x", len(out.Payload), out.Name, srcWant)
					}
					must(t, br.Add(bid))
					br.Advance()
					recvs++
				default:
					t.Fatalf("unexpected completion %v", c.UserData)
				}
			}
		})
	}
}

// On connected UDP sockets, send and multishot recv move bare payloads.
func TestUDPConnectedSendRecv(t *testing.T) {
	r, a := newRingArena(t, RingConfig{Entries: 8}, 4096)
	sender, receiver := udpPair(t, unix.AF_INET)
	to, err := unix.Getsockname(receiver)
	must(t, err)
	from, err := unix.Getsockname(sender)
	must(t, err)
	must(t, unix.Connect(sender, to))
	must(t, unix.Connect(receiver, from))
	registerFds(t, r, 2, sender, receiver)
	br, err := r.RegisterBufRing(8, 4, 128)
	must(t, err)
	must(t, r.SubmitUDPRecvMultishot(1, br.Group(), ud(t, TagUDPRecv, 1, 0)))
	buf, err := a.Alloc(64, 1)
	must(t, err)
	copy(buf, pattern(64))
	must(t, r.SubmitUDPSend(0, buf, ud(t, TagUDPSend, 0, 5)))
	got := reap(t, r, 2)
	if got[0].UserData.Tag() != TagUDPSend {
		got[0], got[1] = got[1], got[0]
	}
	wantRes(t, got[0], ud(t, TagUDPSend, 0, 5), 64)
	bid, ok := got[1].BufferID()
	if got[1].UserData != ud(t, TagUDPRecv, 1, 0) || got[1].Res != 64 || !ok {
		t.Fatalf("recv completion %v res %d flags %#x", got[1].UserData, got[1].Res, got[1].Flags)
	}
	if !bytes.Equal(br.Buffer(bid)[:64], buf) {
		t.Fatal("datagram differs")
	}
}
