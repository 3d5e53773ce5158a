//go:build linux && cgo

package ringline

import (
	"bytes"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// The plain-descriptor file helpers: open a new file, write, fdatasync,
// read back (a short read at the end, then 0), fstat through statx, close;
// and an NVMe command on a file that is not an NVMe device is refused.
func TestFileOpsOnPlainDescriptor(t *testing.T) {
	r, a := newRingArena(t, RingConfig{Entries: 8}, 4*4096)
	path := filepath.Join(t.TempDir(), "plain")
	cpath, err := a.CString(path)
	must(t, err)
	step := uint32(0)
	run := func(submit func(UserData) error) int32 {
		t.Helper()
		step++
		u := ud(t, TagFsOp, 0, step)
		must(t, submit(u))
		c := reapOne(t, r)
		if c.UserData != u {
			t.Fatalf("completion %v, want %v", c.UserData, u)
		}
		return c.Res
	}
	fd := int(run(func(u UserData) error {
		return r.SubmitOpenatFd(cpath, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, 0o600, u)
	}))
	if fd < 0 {
		t.Fatalf("openat: %v", syscall.Errno(-fd))
	}
	closed := false
	defer func() {
		if !closed {
			unix.Close(fd)
		}
	}()
	out, err := a.Alloc(4096, 4096)
	must(t, err)
	copy(out, pattern(4096))
	in, err := a.Alloc(4096, 4096)
	must(t, err)
	if n := run(func(u UserData) error { return r.SubmitWriteFd(fd, out[:1000], 100, u) }); n != 1000 {
		t.Fatalf("write: %d, want 1000", n)
	}
	if res := run(func(u UserData) error { return r.SubmitFsyncFd(fd, true, u) }); res != 0 {
		t.Fatalf("fdatasync: %d", res)
	}
	if n := run(func(u UserData) error { return r.SubmitReadFd(fd, in, 600, u) }); n != 500 || !bytes.Equal(in[:500], out[500:1000]) {
		t.Fatalf("read at 600: %d bytes, want the last 500 written", n)
	}
	if n := run(func(u UserData) error { return r.SubmitReadFd(fd, in, 1100, u) }); n != 0 {
		t.Fatalf("read at the end: %d, want 0", n)
	}
	st, err := a.Statx()
	must(t, err)
	if res := run(func(u UserData) error { return r.SubmitStatxFd(fd, unix.STATX_BASIC_STATS, st, u) }); res != 0 || st.Size != 1100 || st.Mode&unix.S_IFMT != unix.S_IFREG {
		t.Fatalf("statx: %d, size %d mode %#o; want 0, 1100, a regular file", res, st.Size, st.Mode)
	}
	cmd := NvmeFlush(1)
	if res := run(func(u UserData) error { return r.SubmitNvmeCmdFd(fd, &cmd, u) }); res != -int32(syscall.EOPNOTSUPP) && res != -int32(syscall.ENOTTY) {
		t.Fatalf("NVMe flush on a regular file: %d, want -EOPNOTSUPP or -ENOTTY", res)
	}
	closed = true
	if res := run(func(u UserData) error { return r.SubmitCloseFd(fd, u) }); res != 0 {
		t.Fatalf("close: %d", res)
	}
	if got, err := os.ReadFile(path); err != nil || !bytes.Equal(got[100:], out[:1000]) {
		t.Fatalf("file holds %d bytes (%v), want the 1000 written at 100", len(got), err)
	}
	if res := run(func(u UserData) error { return r.SubmitOpenatFd(cpath, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL, 0o600, u) }); res != -int32(syscall.EEXIST) {
		t.Fatalf("O_EXCL open of an existing file: %d, want -EEXIST", res)
	}
}
