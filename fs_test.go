//go:build linux && cgo

package ringline

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// Open straight into a fixed slot with O_DIRECT, write aligned blocks, fsync,
// read them back.
func TestDirectIO(t *testing.T) {
	r, a := newRingArena(t, RingConfig{Entries: 8}, 3*4096)
	must(t, r.RegisterFilesSparse(2))
	path := filepath.Join(t.TempDir(), "direct")
	cpath, err := a.CString(path)
	must(t, err)
	open := ud(t, TagFsOp, 1, 0)
	must(t, r.SubmitOpenat(1, cpath, unix.O_RDWR|unix.O_CREAT|unix.O_DIRECT, 0o600, open))
	if c := reapOne(t, r); c.Res == -int32(syscall.EINVAL) {
		t.Skipf("the filesystem of %s refuses O_DIRECT", path)
	} else {
		wantRes(t, c, open, 0)
	}
	out, err := a.Alloc(4096, 4096)
	must(t, err)
	copy(out, pattern(4096))
	in, err := a.Alloc(4096, 4096)
	must(t, err)

	steps := []struct {
		submit func(UserData) error
		want   int32
	}{
		{func(u UserData) error { return r.SubmitDirectWrite(1, out, 4096, u) }, 4096},
		{func(u UserData) error { return r.SubmitDirectFsync(1, u) }, 0},
		{func(u UserData) error { return r.SubmitDirectRead(1, in, 4096, u) }, 4096},
	}
	for i, s := range steps {
		u := ud(t, TagDirectIO, 1, uint32(i))
		must(t, s.submit(u))
		wantRes(t, reapOne(t, r), u, s.want)
	}
	if !bytes.Equal(in, out) {
		t.Fatal("read back different bytes")
	}
	if st, err := os.Stat(path); err != nil || st.Size() != 8192 {
		t.Fatalf("file size %v, %v; want 8192", st, err)
	}
}

// statx, mkdirat, renameat and unlinkat change and report the filesystem as
// their system calls would.
func TestPathOperations(t *testing.T) {
	r, a := newRingArena(t, RingConfig{Entries: 8}, 8192)
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	must(t, os.WriteFile(file, make([]byte, 1234), 0o640))
	path := func(p string) *byte {
		c, err := a.CString(p)
		must(t, err)
		return c
	}
	run := func(step uint32, submit func(UserData) error) Completion {
		t.Helper()
		u := ud(t, TagFsOp, 0, step)
		must(t, submit(u))
		c := reapOne(t, r)
		if c.UserData != u {
			t.Fatalf("completion %v, want %v", c.UserData, u)
		}
		return c
	}

	st, err := a.Statx()
	must(t, err)
	if c := run(1, func(u UserData) error { return r.SubmitStatx(path(file), st, u) }); c.Res != 0 {
		t.Fatalf("statx: %v", c.Err())
	}
	if st.Size != 1234 || st.Mode&0o777 != 0o640 {
		t.Fatalf("statx size %d mode %o, want 1234 and 640", st.Size, st.Mode&0o777)
	}
	sub := filepath.Join(dir, "sub")
	if c := run(2, func(u UserData) error { return r.SubmitMkdirat(path(sub), 0o755, u) }); c.Res != 0 {
		t.Fatalf("mkdirat: %v", c.Err())
	}
	moved := filepath.Join(sub, "g")
	if c := run(3, func(u UserData) error { return r.SubmitRenameat(path(file), path(moved), u) }); c.Res != 0 {
		t.Fatalf("renameat: %v", c.Err())
	}
	if _, err := os.Stat(moved); err != nil {
		t.Fatalf("after rename: %v", err)
	}
	if c := run(4, func(u UserData) error { return r.SubmitUnlinkat(path(moved), 0, u) }); c.Res != 0 {
		t.Fatalf("unlinkat: %v", c.Err())
	}
	if c := run(5, func(u UserData) error { return r.SubmitUnlinkat(path(sub), unix.AT_REMOVEDIR, u) }); c.Res != 0 {
		t.Fatalf("unlinkat AT_REMOVEDIR: %v", c.Err())
	}
	if _, err := os.Stat(sub); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("directory still there: %v", err)
	}
	if c := run(6, func(u UserData) error { return r.SubmitStatx(path(file), st, u) }); !errors.Is(c.Err(), syscall.ENOENT) {
		t.Fatalf("statx of a moved file: %v, want ENOENT", c.Err())
	}
}

// An NVMe passthrough command on a regular file is refused by the kernel with
// EOPNOTSUPP, which NvmeResult turns into an error saying which device to use.
func TestNvmeCmdOnRegularFile(t *testing.T) {
	r, a := newRingArena(t, RingConfig{Entries: 4}, 8192)
	f, err := os.CreateTemp(t.TempDir(), "not-nvme")
	must(t, err)
	must(t, r.RegisterFilesSparse(1))
	must(t, r.UpdateFiles(0, []int32{int32(f.Fd())}))
	f.Close()
	buf, err := a.Alloc(4096, 4096)
	must(t, err)
	cmd, err := NvmeRead(1, 0, 8, buf)
	must(t, err)
	u := ud(t, TagNvmeCmd, 0, 1)
	must(t, r.SubmitNvmeCmd(0, &cmd, u))
	c := reapOne(t, r)
	wantRes(t, c, u, -int32(syscall.EOPNOTSUPP))
	_, err = NvmeResult(&c)
	if !errors.Is(err, syscall.EOPNOTSUPP) || !bytes.Contains([]byte(err.Error()), []byte("/dev/ng")) {
		t.Fatalf("NvmeResult: %v, want EOPNOTSUPP naming the NVMe generic device", err)
	}
}
