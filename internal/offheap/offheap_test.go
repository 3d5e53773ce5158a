//go:build linux

package offheap

import (
	"encoding/binary"
	"errors"
	"net"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// TestAllocBounds checks the bump allocator: aligned, zeroed, capped
// slices; ErrFull (with nothing handed out) when the mapping is used up; a
// clear refusal after Close.
func TestAllocBounds(t *testing.T) {
	a, err := New(1)
	if err != nil {
		t.Fatal(err)
	}
	page := unix.Getpagesize()
	b, err := a.Alloc(3, 1)
	if err != nil || len(b) != 3 || cap(b) != 3 {
		t.Fatalf("Alloc(3, 1) = len %d cap %d, %v", len(b), cap(b), err)
	}
	c, err := a.Alloc(16, 16)
	if err != nil || uintptr(unsafe.Pointer(&c[0]))%16 != 0 || c[0] != 0 {
		t.Fatalf("Alloc(16, 16) at %p: %v", &c[0], err)
	}
	if _, err := a.Alloc(page, 8); !errors.Is(err, ErrFull) {
		t.Errorf("Alloc past the mapping: %v, want ErrFull", err)
	}
	if _, err := a.Alloc(8, 8); err != nil {
		t.Errorf("a refused allocation used up room: %v", err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Alloc(1, 1); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Alloc after Close: %v, want net.ErrClosed", err)
	}
}

// TestRawSockaddr checks the kernel encodings of the three address
// families: family, port in network order, address, and the refusal of a
// Unix path too long for sun_path.
func TestRawSockaddr(t *testing.T) {
	in4, err := RawSockaddr(&unix.SockaddrInet4{Port: 0x1234, Addr: [4]byte{127, 0, 0, 1}})
	if err != nil || len(in4) != unix.SizeofSockaddrInet4 || binary.NativeEndian.Uint16(in4) != unix.AF_INET ||
		in4[2] != 0x12 || in4[3] != 0x34 || in4[4] != 127 || in4[7] != 1 {
		t.Errorf("IPv4: % x, %v", in4, err)
	}
	in6, err := RawSockaddr(&unix.SockaddrInet6{Port: 80, Addr: [16]byte{15: 1}, ZoneId: 3})
	if err != nil || len(in6) != unix.SizeofSockaddrInet6 || binary.NativeEndian.Uint16(in6) != unix.AF_INET6 ||
		binary.BigEndian.Uint16(in6[2:]) != 80 || in6[23] != 1 || binary.NativeEndian.Uint32(in6[24:]) != 3 {
		t.Errorf("IPv6: % x, %v", in6, err)
	}
	un, err := RawSockaddr(&unix.SockaddrUnix{Name: "/tmp/s"})
	if err != nil || binary.NativeEndian.Uint16(un) != unix.AF_UNIX || string(un[2:]) != "/tmp/s\x00" {
		t.Errorf("Unix: %q, %v", un, err)
	}
	if _, err := RawSockaddr(&unix.SockaddrUnix{Name: string(make([]byte, 108))}); err == nil {
		t.Error("a 108-byte Unix path was accepted")
	}
}
