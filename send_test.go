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
	iov[0].Base, iov[0].Len = &data[0], uint64(len(data))
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
	parts := []string{"first ", "second ", "third"}
	msg, iov, err := a.Msghdr(len(parts))
	must(t, err)
	for i, p := range parts {
		b, err := a.Alloc(len(p), 1)
		must(t, err)
		copy(b, p)
		iov[i].Base = &b[0]
		iov[i].SetLen(len(b))
	}
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

// A TLS send linked to a close runs first: the peer reads the bytes, then EOF.
func TestTLSSendLinkedThenClose(t *testing.T) {
	r, a, server := ringConn(t, unix.AF_INET, 8, 4096)
	alert, err := a.Alloc(31, 1) // the size of a TLS 1.3 close_notify record
	must(t, err)
	copy(alert, pattern(31))
	must(t, r.SubmitTLSSendLinked(0, alert, 4))
	must(t, r.SubmitClose(0))
	got := reap(t, r, 2)
	wantRes(t, got[0], ud(t, TagTLSSend, 0, 4), 31)
	wantRes(t, got[1], ud(t, TagClose, 0, 0), 0)
	if b := readN(t, server, 31); !bytes.Equal(b, alert) {
		t.Fatal("peer read different bytes")
	}
	if n, err := unix.Read(server, make([]byte, 1)); n != 0 || err != nil {
		t.Fatalf("after the linked close the peer read %d bytes, %v; want EOF", n, err)
	}
}

// Link(2) builds the same ordered pair from an ordinary send and a close, and
// a TLS send without the link is a plain send tagged TagTLSSend.
func TestLinkedSendThenCloseAndTLSSend(t *testing.T) {
	r, a, server := ringConn(t, unix.AF_INET, 8, 4096)
	hello, err := a.Alloc(5, 1)
	must(t, err)
	copy(hello, "hello")
	must(t, r.SubmitTLSSend(0, hello, 1))
	wantRes(t, reapOne(t, r), ud(t, TagTLSSend, 0, 1), 5)
	must(t, r.Link(2))
	must(t, r.SubmitSendCopied(0, hello, 2))
	must(t, r.SubmitClose(0))
	got := reap(t, r, 2)
	wantRes(t, got[0], ud(t, TagSend, 0, 2), 5)
	wantRes(t, got[1], ud(t, TagClose, 0, 0), 0)
	if b := readN(t, server, 10); string(b) != "hellohello" {
		t.Fatalf("peer read %q", b)
	}
}
