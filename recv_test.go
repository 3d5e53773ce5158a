//go:build linux && cgo

package ringline

import (
	"bytes"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// pattern returns n bytes that differ from position to position, so a lost,
// doubled or reordered chunk shows.
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

// Multishot recv delivers one write over several completions, each with
// IORING_CQE_F_MORE and a buffer id from the ring.
func TestMultishotRecv(t *testing.T) {
	for _, f := range families {
		t.Run(f.name, func(t *testing.T) {
			r, _, client := ringConn(t, f.family, 16, 4096)
			br, err := r.RegisterBufRing(1, 8, 64)
			must(t, err)
			must(t, r.SubmitMultishotRecv(0, br.Group()))
			want := pattern(300)
			_, err = unix.Write(client, want)
			must(t, err)

			var got []byte
			completions := 0
			for len(got) < len(want) {
				c := reapOne(t, r)
				bid, ok := c.BufferID()
				if c.UserData != ud(t, TagRecvMulti, 0, 0) || c.Res <= 0 || !ok || !c.More() {
					t.Fatalf("completion %v res %d flags %#x: want data in a provided buffer with MORE", c.UserData, c.Res, c.Flags)
				}
				got = append(got, br.Buffer(bid)[:c.Res]...)
				must(t, br.Add(bid))
				br.Advance()
				completions++
			}
			if !bytes.Equal(got, want) || completions < 2 {
				t.Fatalf("received %d bytes over %d completions; want the 300 bytes written over several", len(got), completions)
			}
		})
	}
}

// An empty buffer ring ends the multishot recv with -ENOBUFS; after the
// buffers are returned and the recv re-armed, the rest arrives with no byte
// lost or reordered.
func TestMultishotRecvENOBUFSResumes(t *testing.T) {
	r, _, client := ringConn(t, unix.AF_INET, 16, 4096)
	br, err := r.RegisterBufRing(3, 4, 64)
	must(t, err)
	want := pattern(1000)
	_, err = unix.Write(client, want)
	must(t, err)
	must(t, r.SubmitMultishotRecv(0, br.Group()))

	var got []byte
	var held []uint16
	enobufs := 0
	for len(got) < len(want) {
		c := reapOne(t, r)
		if c.Res == -int32(syscall.ENOBUFS) {
			if c.More() {
				t.Fatal("ENOBUFS completion still has MORE set")
			}
			enobufs++
			for _, bid := range held {
				must(t, br.Add(bid))
			}
			br.Advance()
			held = held[:0]
			must(t, r.SubmitMultishotRecv(0, br.Group()))
			continue
		}
		bid, ok := c.BufferID()
		if c.Res <= 0 || !ok {
			t.Fatalf("completion res %d flags %#x", c.Res, c.Flags)
		}
		got = append(got, br.Buffer(bid)[:c.Res]...)
		held = append(held, bid) // kept back until the ring runs dry
	}
	if enobufs == 0 {
		t.Fatal("never saw ENOBUFS with 4 buffers of 64 bytes for 1000 bytes")
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("after %d ENOBUFS re-arms: data differs (got %d bytes)", enobufs, len(got))
	}
}

// A ring registered with only its first buffer handed over uses that one
// buffer, runs dry, and then uses exactly the buffers added later, in the
// order added: the buffers never handed over are never written.
func TestBufRingFirstProvidesOnlyThose(t *testing.T) {
	r, _, client := ringConn(t, unix.AF_INET, 16, 4096)
	br, err := r.RegisterBufRingFirst(4, 4, 64, 1)
	must(t, err)
	want := pattern(3 * 64)
	_, err = unix.Write(client, want)
	must(t, err)
	must(t, r.SubmitMultishotRecv(0, br.Group()))

	var got []byte
	var bids []uint16
	added := false
	for len(got) < len(want) {
		c := reapOne(t, r)
		if c.Res == -int32(syscall.ENOBUFS) {
			if added {
				t.Fatal("ENOBUFS again after buffers 3 and 2 were added")
			}
			added = true
			for _, bid := range []uint16{3, 2} {
				must(t, br.Add(bid))
			}
			br.Advance()
			must(t, r.SubmitMultishotRecv(0, br.Group()))
			continue
		}
		bid, ok := c.BufferID()
		if c.Res <= 0 || !ok {
			t.Fatalf("completion res %d flags %#x", c.Res, c.Flags)
		}
		got = append(got, br.Buffer(bid)[:c.Res]...)
		bids = append(bids, bid)
	}
	if !added || !bytes.Equal(got, want) {
		t.Fatalf("ran dry: %v; data equal: %v", added, bytes.Equal(got, want))
	}
	if len(bids) != 3 || bids[0] != 0 || bids[1] != 3 || bids[2] != 2 {
		t.Fatalf("buffer ids used %v, want [0 3 2]", bids)
	}
	if untouched := br.Buffer(1); !bytes.Equal(untouched, make([]byte, 64)) {
		t.Fatal("buffer 1, never handed over, was written")
	}
	if _, err := r.RegisterBufRingFirst(5, 4, 64, 5); err == nil {
		t.Fatal("RegisterBufRingFirst accepted 5 first buffers of 4")
	}
}

// Multishot recvmsg on TCP with SO_TIMESTAMP delivers the payload and a
// timestamp control message laid out as the template msghdr asks.
func TestMultishotRecvMsgTimestamps(t *testing.T) {
	r, a := newRingArena(t, RingConfig{Entries: 8}, 4096)
	client, server := tcpPair(t, unix.AF_INET)
	closeAtEnd(t, client)
	must(t, unix.SetsockoptInt(server, unix.SOL_SOCKET, unix.SO_TIMESTAMP, 1))
	awaitRxTimestamps(t, client, server)
	registerFds(t, r, 1, server)
	br, err := r.RegisterBufRing(2, 4, 512)
	must(t, err)
	msg, _, err := a.Msghdr(0)
	must(t, err)
	msg.SetControllen(64)
	must(t, r.SubmitMultishotRecvMsg(0, msg, br.Group()))
	_, err = unix.Write(client, []byte("stamped"))
	must(t, err)

	c := reapOne(t, r)
	bid, ok := c.BufferID()
	if c.UserData.Tag() != TagRecvMsgMultiTs || c.Res <= 0 || !ok {
		t.Fatalf("completion %v res %d flags %#x", c.UserData, c.Res, c.Flags)
	}
	out, err := ParseRecvMsgOut(br.Buffer(bid)[:c.Res], msg.Namelen, uint32(msg.Controllen))
	must(t, err)
	if string(out.Payload) != "stamped" {
		t.Fatalf("payload %q", out.Payload)
	}
	cmsgs, err := unix.ParseSocketControlMessage(out.Control)
	must(t, err)
	if len(cmsgs) != 1 || cmsgs[0].Header.Level != unix.SOL_SOCKET || cmsgs[0].Header.Type != unix.SO_TIMESTAMP {
		t.Fatalf("control messages %+v, want one SO_TIMESTAMP", cmsgs)
	}
}

// awaitRxTimestamps waits until received packets carry timestamps. The kernel
// switches receive timestamping on from a work queue (netstamp_work) the first
// time a socket asks, so the first packets after SO_TIMESTAMP may have none.
func awaitRxTimestamps(t *testing.T, client, server int) {
	t.Helper()
	oob := make([]byte, 64)
	for range 200 {
		_, err := unix.Write(client, []byte{0})
		must(t, err)
		_, oobn, _, _, err := unix.Recvmsg(server, make([]byte, 1), oob, 0)
		must(t, err)
		if oobn > 0 {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Skip("receive timestamps never appeared on this kernel")
}

// A recv-forward sendmsg sends straight out of held provided buffers.
func TestSendRecvBufsCoalesced(t *testing.T) {
	r, a := newRingArena(t, RingConfig{Entries: 8}, 4096)
	inClient, inServer := tcpPair(t, unix.AF_INET)
	outClient, outServer := tcpPair(t, unix.AF_INET)
	closeAtEnd(t, inClient, outServer)
	registerFds(t, r, 2, inServer, outClient)
	br, err := r.RegisterBufRing(5, 8, 16)
	must(t, err)
	must(t, r.SubmitMultishotRecv(0, br.Group()))
	want := pattern(40)
	_, err = unix.Write(inClient, want)
	must(t, err)

	var bids []uint16
	var lens []int
	for total := 0; total < len(want); {
		c := reapOne(t, r)
		bid, ok := c.BufferID()
		if c.Res <= 0 || !ok {
			t.Fatalf("recv completion res %d", c.Res)
		}
		bids, lens = append(bids, bid), append(lens, int(c.Res))
		total += int(c.Res)
	}
	msg, iov, err := a.Msghdr(len(bids))
	must(t, err)
	for i, bid := range bids {
		SetIovec(&iov[i], br.Buffer(bid)[:lens[i]])
	}
	must(t, r.SubmitSendRecvBufsCoalesced(1, msg, 9))
	wantRes(t, reapOne(t, r), ud(t, TagSendRecvBufsCoalesced, 1, 9), int32(len(want)))
	if got := readN(t, outServer, len(want)); !bytes.Equal(got, want) {
		t.Fatalf("forwarded %q, want %q", got, want)
	}
}
