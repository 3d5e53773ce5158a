//go:build linux && cgo

package ringline

import (
	"errors"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// The fixed-file table refuses slots outside it with an error, before
// anything reaches the kernel; with no table every fixed-file operation is refused.
func TestFixedFileSlotRange(t *testing.T) {
	r, a := newRingArena(t, RingConfig{Entries: 4}, 4096)
	buf, err := a.Alloc(16, 1)
	must(t, err)
	if err := r.SubmitSendCopied(0, buf, 0); !errors.Is(err, ErrSlotRange) {
		t.Fatalf("send with no file table: %v, want ErrSlotRange", err)
	}
	must(t, r.RegisterFilesSparse(4))
	if err := r.UpdateFiles(3, []int32{-1, -1}); !errors.Is(err, ErrSlotRange) {
		t.Errorf("UpdateFiles past the end: %v, want ErrSlotRange", err)
	}
	for name, submit := range map[string]func() error{
		"recv":    func() error { return r.SubmitMultishotRecv(4, 0) },
		"close":   func() error { return r.SubmitClose(4) },
		"openat":  func() error { return r.SubmitOpenat(9, &buf[0], 0, 0, ud(t, TagFsOp, 0, 0)) },
		"read":    func() error { return r.SubmitDirectRead(1<<20, buf, 0, ud(t, TagDirectIO, 0, 0)) },
		"udpsend": func() error { return r.SubmitUDPSend(4, buf, ud(t, TagUDPSend, 0, 0)) },
	} {
		if err := submit(); !errors.Is(err, ErrSlotRange) {
			t.Errorf("%s on a slot outside the table: %v, want ErrSlotRange", name, err)
		}
	}
	if err := r.SubmitSendCopied(MaxIndex+1, buf, 0); !errors.Is(err, ErrIndexRange) {
		t.Errorf("send on slot 1<<24: %v, want ErrIndexRange", err)
	}
	if r.Pending() != 0 {
		t.Fatalf("%d refused submissions were queued", r.Pending())
	}
	// An empty slot inside the table reaches the kernel, which answers EBADF.
	must(t, r.SubmitShutdown(2))
	wantRes(t, reapOne(t, r), ud(t, TagShutdown, 2, 0), -int32(syscall.EBADF))
}

// The sparse fixed-buffer table takes, replaces and clears single slots and
// refuses slots outside it; the kernel checks the memory it is given.
func TestFixedBufferTable(t *testing.T) {
	r, a := newRingArena(t, RingConfig{Entries: 4}, 3*4096)
	buf, err := a.Alloc(8192, 4096)
	must(t, err)
	if err := r.UpdateBuffer(0, buf); !errors.Is(err, ErrSlotRange) {
		t.Fatalf("UpdateBuffer with no table: %v, want ErrSlotRange", err)
	}
	must(t, r.RegisterBuffersSparse(4))
	must(t, r.UpdateBuffer(0, buf))
	must(t, r.UpdateBuffer(3, buf[:4096]))
	must(t, r.ClearBuffer(0))
	must(t, r.UpdateBuffer(0, buf[4096:]))
	for _, err := range []error{r.UpdateBuffer(4, buf), r.ClearBuffer(1 << 30)} {
		if !errors.Is(err, ErrSlotRange) {
			t.Errorf("slot outside a 4-slot table: %v, want ErrSlotRange", err)
		}
	}
	if err := r.UpdateBuffer(1, nil); err == nil {
		t.Error("UpdateBuffer with an empty buffer was accepted")
	}
	noAccess, err := unix.Mmap(-1, 0, 4096, unix.PROT_NONE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	must(t, err)
	defer unix.Munmap(noAccess)
	if err := r.UpdateBuffer(2, noAccess); !errors.Is(err, syscall.EFAULT) {
		t.Errorf("registering PROT_NONE memory: %v, want EFAULT from the kernel", err)
	}
}

// A provided buffer ring validates its shape and buffer ids, refuses a second
// registration of its group, and once closed is gone from the kernel.
func TestBufRingLifecycle(t *testing.T) {
	r := newRing(t, RingConfig{Entries: 4})
	for _, bad := range [][2]int{{0, 64}, {3, 64}, {1 << 16, 64}, {4, 0}} {
		if _, err := r.RegisterBufRing(1, bad[0], bad[1]); err == nil {
			t.Errorf("RegisterBufRing(%d entries, %d bytes) succeeded", bad[0], bad[1])
		}
	}
	br, err := r.RegisterBufRing(1, 4, 64)
	must(t, err)
	if _, err := r.RegisterBufRing(1, 4, 64); err == nil {
		t.Error("a second ring for group 1 was accepted")
	}
	if err := br.Add(4); !errors.Is(err, ErrSlotRange) {
		t.Errorf("Add(4) on a 4-buffer ring: %v, want ErrSlotRange", err)
	}
	if len(br.Buffer(3)) != 64 || br.BufSize() != 64 {
		t.Errorf("buffer size %d", len(br.Buffer(3)))
	}
	must(t, br.Close())
	must(t, br.Close())
	if _, err := r.RegisterBufRing(1, 4, 64); err != nil { // the group is free again
		t.Fatalf("re-registering group 1 after Close: %v", err)
	}
	must(t, r.bufRings[1].Close())

	client, server := tcpPair(t, unix.AF_INET)
	closeAtEnd(t, client)
	registerFds(t, r, 1, server)
	must(t, r.SubmitMultishotRecv(0, 1))
	_, err = unix.Write(client, []byte("x"))
	must(t, err)
	wantRes(t, reapOne(t, r), ud(t, TagRecvMulti, 0, 0), -int32(syscall.ENOBUFS))
}

// Closing a buffer ring from a thread other than the ring's is refused by the
// kernel; the memory then stays mapped, since the kernel may still use it.
func TestBufRingCloseFromForeignThread(t *testing.T) {
	r := newRing(t, RingConfig{Entries: 4})
	br, err := r.RegisterBufRing(2, 4, 64)
	must(t, err)
	closed := make(chan error)
	go func() {
		runtime.LockOSThread() // a thread that is surely not the ring's
		defer runtime.UnlockOSThread()
		closed <- br.Close()
	}()
	if err := <-closed; !errors.Is(err, syscall.EEXIST) || !strings.Contains(err.Error(), "left mapped") {
		t.Fatalf("BufRing.Close from another thread: %v, want EEXIST saying the memory stays mapped", err)
	}
	br.Buffer(0)[0] = 1 // still mapped: this would fault otherwise
	t.Cleanup(br.unmap) // after the ring has closed (cleanups run last in, first out)
}
