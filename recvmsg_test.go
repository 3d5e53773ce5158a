package ringline

// Regression tests for recvmsg.go. They guard ParseRecvMsgOut against the
// kernel's io_uring_recvmsg_out layout: a 16-byte header, then exactly the
// template's msg_namelen bytes for the name and msg_controllen bytes for the
// control data, then the payload. The name and control must be clipped to the
// template's room (a long source address is truncated by the kernel), the
// payload must start after the reserved room whatever the header says, and a
// buffer too short for the header and reserved room must be refused, never
// sliced out of bounds.

import (
	"bytes"
	"encoding/binary"
	"testing"
	"unsafe"
)

// recvMsgBuf lays out a multishot recvmsg buffer by hand: the header fields
// in host byte order, nameLen bytes of 0xA0+i, controlLen bytes of 0xC0+i,
// then the payload.
func recvMsgBuf(hdrName, hdrControl, payloadLen, flags, nameLen, controlLen uint32, payload []byte) []byte {
	b := make([]byte, 16, 16+int(nameLen)+int(controlLen)+len(payload))
	ne := binary.NativeEndian
	ne.PutUint32(b[0:], hdrName)
	ne.PutUint32(b[4:], hdrControl)
	ne.PutUint32(b[8:], payloadLen)
	ne.PutUint32(b[12:], flags)
	for i := range nameLen {
		b = append(b, 0xA0+byte(i))
	}
	for i := range controlLen {
		b = append(b, 0xC0+byte(i))
	}
	return append(b, payload...)
}

// recvMsgPattern returns n bytes of base+i, the bytes recvMsgBuf puts in a region.
func recvMsgPattern(base byte, n uint32) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = base + byte(i)
	}
	return p
}

func TestParseRecvMsgOut(t *testing.T) {
	const msgTrunc = 0x20 // Linux MSG_TRUNC; the parser copies flags verbatim
	tests := []struct {
		name                        string
		hdrName, hdrControl         uint32
		payloadLen, flags           uint32
		nameLen, controlLen         uint32
		payload                     []byte
		wantNameLen, wantControlLen uint32
	}{
		{"ipv4 exact", 16, 0, 5, 0, 16, 0, []byte("hello"), 16, 0},
		{"ipv4 into ipv6 room", 16, 0, 5, 0, 28, 0, []byte("hello"), 16, 0},
		{"name truncated", 28, 0, 3, 0, 16, 0, []byte("abc"), 16, 0},
		{"control shorter than room", 16, 24, 4, 0, 16, 32, []byte("data"), 16, 24},
		{"control truncated", 16, 48, 4, 0x8, 16, 32, []byte("data"), 16, 32},
		{"no name no control", 0, 0, 2, 0, 0, 0, []byte("hi"), 0, 0},
		{"header lengths ignored without room", 16, 24, 2, 0, 0, 0, []byte("hi"), 0, 0},
		{"zero-length payload", 16, 0, 0, 0, 16, 0, nil, 16, 0},
		{"payload truncated", 16, 0, 9000, msgTrunc, 16, 0, []byte("part"), 16, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			buf := recvMsgBuf(tc.hdrName, tc.hdrControl, tc.payloadLen, tc.flags, tc.nameLen, tc.controlLen, tc.payload)
			m, err := ParseRecvMsgOut(buf, tc.nameLen, tc.controlLen)
			if err != nil {
				t.Fatalf("ParseRecvMsgOut(%d bytes, %d, %d): got error %v, want nil", len(buf), tc.nameLen, tc.controlLen, err)
			}
			if want := recvMsgPattern(0xA0, tc.wantNameLen); !bytes.Equal(m.Name, want) {
				t.Errorf("Name = %x, want %x", m.Name, want)
			}
			if want := recvMsgPattern(0xC0, tc.wantControlLen); !bytes.Equal(m.Control, want) {
				t.Errorf("Control = %x, want %x", m.Control, want)
			}
			if !bytes.Equal(m.Payload, tc.payload) {
				t.Errorf("Payload = %q, want %q", m.Payload, tc.payload)
			}
			if m.PayloadLen != tc.payloadLen {
				t.Errorf("PayloadLen = %d, want %d", m.PayloadLen, tc.payloadLen)
			}
			if m.Flags != tc.flags {
				t.Errorf("Flags = %#x, want %#x", m.Flags, tc.flags)
			}
		})
	}
}

func TestParseRecvMsgOutRefusesShortBuffer(t *testing.T) {
	tests := []struct {
		name                string
		size                int
		nameLen, controlLen uint32
	}{
		{"empty", 0, 0, 0},
		{"header cut", 15, 0, 0},
		{"name room cut", 16 + 15, 16, 0},
		{"control room cut", 16 + 16 + 31, 16, 32},
		{"huge name room", 64, 0xFFFFFFFF, 0},
		{"huge control room", 64, 0, 0xFFFFFFFF},
		{"both huge", 64, 0xFFFFFFFF, 0xFFFFFFFF},
	}
	for _, tc := range tests {
		buf := make([]byte, tc.size)
		if m, err := ParseRecvMsgOut(buf, tc.nameLen, tc.controlLen); err == nil {
			t.Errorf("%s: ParseRecvMsgOut(%d bytes, %d, %d) = %+v, nil; want an error",
				tc.name, tc.size, tc.nameLen, tc.controlLen, m)
		}
	}
}

// recvMsgOffsetIn returns where the non-empty slice s starts inside buf, and whether
// it lies wholly inside buf.
func recvMsgOffsetIn(buf, s []byte) (int, bool) {
	start := uintptr(unsafe.Pointer(&buf[0]))
	p := uintptr(unsafe.Pointer(&s[0]))
	if p < start || p-start+uintptr(len(s)) > uintptr(len(buf)) {
		return 0, false
	}
	return int(p - start), true
}

func FuzzParseRecvMsgOut(f *testing.F) {
	f.Add(recvMsgBuf(16, 0, 5, 0, 16, 0, []byte("hello")), uint32(16), uint32(0))
	f.Add(recvMsgBuf(28, 40, 3, 0x28, 16, 32, []byte("abc")), uint32(16), uint32(32))
	f.Add(recvMsgBuf(0xFFFFFFFF, 0xFFFFFFFF, 0, 0, 4, 4, nil), uint32(4), uint32(4))
	f.Add(make([]byte, 16), uint32(0), uint32(0))
	f.Add(make([]byte, 15), uint32(0), uint32(0))
	f.Add(make([]byte, 64), uint32(0xFFFFFFFF), uint32(0xFFFFFFFF))
	f.Fuzz(func(t *testing.T, buf []byte, nameLen uint32, controlLen uint32) {
		m, err := ParseRecvMsgOut(buf, nameLen, controlLen)
		header := 16 + uint64(nameLen) + uint64(controlLen)
		if err != nil {
			if uint64(len(buf)) >= header {
				t.Fatalf("ParseRecvMsgOut(%d bytes, %d, %d): error %v, want success", len(buf), nameLen, controlLen, err)
			}
			return
		}
		if uint64(len(buf)) < header {
			t.Fatalf("ParseRecvMsgOut(%d bytes, %d, %d) succeeded, want a refusal (needs %d)", len(buf), nameLen, controlLen, header)
		}
		ne := binary.NativeEndian
		if want := min(ne.Uint32(buf[0:]), nameLen); uint32(len(m.Name)) != want {
			t.Fatalf("len(Name) = %d, want %d", len(m.Name), want)
		}
		if want := min(ne.Uint32(buf[4:]), controlLen); uint32(len(m.Control)) != want {
			t.Fatalf("len(Control) = %d, want %d", len(m.Control), want)
		}
		if want := uint64(len(buf)) - header; uint64(len(m.Payload)) != want {
			t.Fatalf("len(Payload) = %d, want %d", len(m.Payload), want)
		}
		if m.PayloadLen != ne.Uint32(buf[8:]) || m.Flags != ne.Uint32(buf[12:]) {
			t.Fatalf("PayloadLen, Flags = %d, %#x; want %d, %#x", m.PayloadLen, m.Flags, ne.Uint32(buf[8:]), ne.Uint32(buf[12:]))
		}
		regions := []struct {
			name string
			s    []byte
			at   uint64
		}{
			{"Name", m.Name, 16},
			{"Control", m.Control, 16 + uint64(nameLen)},
			{"Payload", m.Payload, header},
		}
		for _, r := range regions {
			if len(r.s) == 0 {
				continue
			}
			off, inside := recvMsgOffsetIn(buf, r.s)
			if !inside {
				t.Fatalf("%s (%d bytes) does not lie inside the %d-byte buffer", r.name, len(r.s), len(buf))
			}
			if uint64(off) != r.at {
				t.Fatalf("%s starts at offset %d, want %d", r.name, off, r.at)
			}
		}
	})
}
