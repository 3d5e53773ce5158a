//go:build linux && cgo

package ringline

import (
	"bytes"
	"testing"

	"golang.org/x/sys/unix"
)

// A copied send reports its byte count with the pool slot in the payload.
func TestSendCopied(t *testing.T) {
	for _, f := range families {
		t.Run(f.name, func(t *testing.T) {
			r, a, server := ringConn(t, f.family, 8, 4096)
			buf, err := a.Alloc(1000, 8)
			must(t, err)
			copy(buf, pattern(1000))
			must(t, r.SubmitSendCopied(0, buf, 7))
			wantRes(t, reapOne(t, r), ud(t, TagSend, 0, 7), 1000)
			if got := readN(t, server, 1000); !bytes.Equal(got, pattern(1000)) {
				t.Fatal("peer received different bytes")
			}
		})
	}
}

// A zero-copy sendmsg gives its result with MORE, then a notification
// completion once its memory is free again.
func TestSendMsgZC(t *testing.T) {
	r, a, server := ringConn(t, unix.AF_INET, 8, 16384)
	data, err := a.Alloc(8192, 4096)
	must(t, err)
	copy(data, pattern(8192))
	msg, iov, err := a.Msghdr(1)
	must(t, err)
	SetIovec(&iov[0], data)
	must(t, r.SubmitSendMsgZC(0, msg, 3))
	u := ud(t, TagSendMsgZC, 0, 3)

	res := reapOne(t, r)
	if res.Err() != nil && res.Res == -int32(unix.EOPNOTSUPP) {
		t.Skip("kernel lacks IORING_OP_SENDMSG_ZC")
	}
	wantRes(t, res, u, 8192)
	if !res.More() || res.Notification() {
		t.Fatalf("result completion flags %#x: want MORE and not NOTIF", res.Flags)
	}
	notif := reapOne(t, r)
	if notif.UserData != u || !notif.Notification() || notif.More() {
		t.Fatalf("second completion %v flags %#x: want the NOTIF of the same send", notif.UserData, notif.Flags)
	}
	if got := readN(t, server, 8192); !bytes.Equal(got, pattern(8192)) {
		t.Fatal("peer received different bytes")
	}
}

// A coalesced sendmsg gathers several queued sends into one call, in order.
func TestSendMsgCoalesced(t *testing.T) {
	r, a, server := ringConn(t, unix.AF_INET6, 8, 4096)
	msg := gatherMsg(t, a, "first ", "second ", "third")
	must(t, r.SubmitSendMsgCoalesced(0, msg, 11))
	wantRes(t, reapOne(t, r), ud(t, TagSendMsgCoalesced, 0, 11), 18)
	if got := readN(t, server, 18); string(got) != "first second third" {
		t.Fatalf("peer read %q", got)
	}
}

// Each POLLOUT arm completes with POLLOUT on a writable socket and carries
// its tag and payload back.
func TestPollOutArms(t *testing.T) {
	r, _, _ := ringConn(t, unix.AF_INET, 8, 4096)
	arms := []struct {
		submit func(uint32, uint16) error
		tag    Tag
	}{
		{r.SubmitSendPollOut, TagSendPollOut},
		{r.SubmitSendMsgCoalescedPollOut, TagSendMsgCoalescedPollOut},
		{r.SubmitSendRecvBufsCoalescedPollOut, TagSendRecvBufsCoalescedPollOut},
	}
	for i, arm := range arms {
		must(t, arm.submit(0, uint16(20+i)))
		c := reapOne(t, r)
		if c.UserData != ud(t, arm.tag, 0, uint32(20+i)) || c.Res&unix.POLLOUT == 0 {
			t.Errorf("%v: completion %v res %#x, want POLLOUT", arm.tag, c.UserData, c.Res)
		}
	}
}

// A linked send followed by a close runs in order even when the send has to
// wait: the peer's receive window is full, so only the link keeps the close
// from running first. The linked TLS send waits for all its bytes
// (MSG_WAITALL); the peer reads every one of them, then EOF.
func TestTLSSendLinkedThenClose(t *testing.T) {
	checkSendThenClose(t, func(r *Ring, buf []byte) error {
		if err := r.SubmitTLSSendLinked(0, buf, 4); err != nil {
			return err
		}
		return r.SubmitClose(0)
	}, TagTLSSend, 4, true)
}

// Link(2) orders an ordinary send and a close the same way; that send may be
// short (no MSG_WAITALL), and the peer reads what it sent, then EOF.
func TestLinkedSendThenClose(t *testing.T) {
	checkSendThenClose(t, func(r *Ring, buf []byte) error {
		if err := r.Link(2); err != nil {
			return err
		}
		if err := r.SubmitSendCopied(0, buf, 2); err != nil {
			return err
		}
		return r.SubmitClose(0)
	}, TagSend, 2, false)
}

func checkSendThenClose(t *testing.T, submit func(*Ring, []byte) error, sendTag Tag, slot uint32, whole bool) {
	r, a := newRingArena(t, RingConfig{Entries: 8}, 1<<14)
	ours, peer := tcpPair(t, unix.AF_INET)
	closeAtEnd(t, peer)
	filled := fillSendPath(t, ours, peer)
	registerFds(t, r, 1, ours)
	buf, err := a.Alloc(1<<14, 8)
	must(t, err)
	copy(buf, pattern(len(buf)))
	must(t, submit(r, buf))
	if _, err := r.Flush(); err != nil {
		t.Fatal(err)
	}
	received := make(chan []byte)
	go func() { // drain the peer until EOF (bounded by SO_RCVTIMEO)
		var all []byte
		chunk := make([]byte, 1<<16)
		for {
			n, err := readRetry(peer, chunk)
			if n <= 0 || err != nil {
				received <- all
				return
			}
			all = append(all, chunk[:n]...)
		}
	}()
	got := reap(t, r, 2)
	sent := int(got[0].Res)
	if got[0].UserData != ud(t, sendTag, 0, slot) || sent <= 0 || sent > len(buf) || (whole && sent != len(buf)) {
		t.Fatalf("first completion %v res %d: want the send of %d bytes (whole: %v)", got[0].UserData, sent, len(buf), whole)
	}
	wantRes(t, got[1], ud(t, TagClose, 0, 0), 0)
	all := <-received
	if len(all) != filled+sent || !bytes.Equal(all[filled:], buf[:sent]) {
		t.Fatalf("peer read %d bytes before EOF, want %d ending with the %d sent", len(all), filled+sent, sent)
	}
}

// fillSendPath shrinks the buffers between ours and peer and writes until
// ours would block, so that the next send has to wait for the peer to read.
// It returns the bytes written; the peer's reads time out after 5 seconds.
func fillSendPath(t *testing.T, ours, peer int) int {
	t.Helper()
	must(t, unix.SetsockoptInt(peer, unix.SOL_SOCKET, unix.SO_RCVBUF, 4096))
	must(t, unix.SetsockoptInt(ours, unix.SOL_SOCKET, unix.SO_SNDBUF, 4096))
	must(t, unix.SetsockoptTimeval(peer, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Sec: 5}))
	must(t, unix.SetNonblock(ours, true))
	filled := 0
	for chunk := make([]byte, 4096); ; {
		n, err := unix.Write(ours, chunk)
		if err == unix.EAGAIN {
			break
		}
		must(t, err)
		filled += n
	}
	must(t, unix.SetNonblock(ours, false))
	return filled
}
