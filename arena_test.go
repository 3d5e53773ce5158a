//go:build linux

package ringline

import (
	"errors"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The arena hands out aligned, zeroed, non-overlapping memory and says when
// it is full.
func TestArenaAlloc(t *testing.T) {
	a, err := NewArena(8192)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	small, err := a.Alloc(3, 1)
	if err != nil {
		t.Fatal(err)
	}
	page, err := a.Alloc(4096, 4096)
	if err != nil {
		t.Fatal(err)
	}
	if uintptr(unsafe.Pointer(&page[0]))%4096 != 0 || cap(small) != 3 {
		t.Fatalf("page allocation at %p, small cap %d", &page[0], cap(small))
	}
	if _, err := a.Alloc(4096, 4096); !errors.Is(err, ErrArenaFull) {
		t.Fatalf("third allocation: %v, want ErrArenaFull", err)
	}
	for _, bad := range [][2]int{{-1, 1}, {1, 0}, {1, 3}, {1, 2 * unix.Getpagesize()}} {
		if _, err := a.Alloc(bad[0], bad[1]); err == nil {
			t.Errorf("Alloc(%d, %d) succeeded", bad[0], bad[1])
		}
	}
	if _, err := NewArena(0); err == nil {
		t.Error("NewArena(0) succeeded")
	}
}

// Typed allocations hold what they were given.
func TestArenaTyped(t *testing.T) {
	a, err := NewArena(4096)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ts, err := a.Timespec(1500 * time.Millisecond)
	if err != nil || ts.Sec != 1 || ts.Nsec != 5e8 {
		t.Fatalf("Timespec: %+v, %v", ts, err)
	}
	p, err := a.CString("/tmp/x")
	if err != nil || unix.BytePtrToString(p) != "/tmp/x" {
		t.Fatalf("CString: %v", err)
	}
	if _, err := a.CString("a\x00b"); err == nil {
		t.Error("a path with NUL was accepted")
	}
	msg, iov, err := a.Msghdr(3)
	if err != nil || len(iov) != 3 || msg.Iov != &iov[0] || msg.Iovlen != 3 {
		t.Fatalf("Msghdr: %+v, %v", msg, err)
	}
	raw, err := a.Sockaddr(&unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}, Port: 0x1234})
	want := []byte{unix.AF_INET, 0, 0x12, 0x34, 127, 0, 0, 1}
	if err != nil || string(raw[:8]) != string(want) {
		t.Fatalf("Sockaddr: % x, %v", raw, err)
	}
	if _, err := a.Sockaddr(&unix.SockaddrUnix{Name: string(make([]byte, 200))}); err == nil {
		t.Error("an overlong unix path was accepted")
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Alloc(1, 1); err == nil {
		t.Error("Alloc after Close succeeded")
	}
}
