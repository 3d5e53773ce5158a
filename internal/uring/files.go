//go:build linux && cgo

package uring

import (
	"golang.org/x/sys/unix"

	"github.com/ringline-go/ringline"
	"github.com/ringline-go/ringline/internal/backend"
)

// File operations: one descriptor each on plain descriptors, completed by
// the kernel like the socket operations.

func (u *engine) OpenAt(path *byte, flags int, mode uint32, ud uint64) error {
	return u.ring.SubmitOpenatFd(path, flags, mode, ringline.UserData(ud))
}

func (u *engine) ReadAt(fd int, buf []byte, off int64, ud uint64) error {
	return u.ring.SubmitReadFd(fd, buf, uint64(off), ringline.UserData(ud))
}

func (u *engine) WriteAt(fd int, buf []byte, off int64, ud uint64) error {
	return u.ring.SubmitWriteFd(fd, buf, uint64(off), ringline.UserData(ud))
}

func (u *engine) Fsync(fd int, datasync bool, ud uint64) error {
	return u.ring.SubmitFsyncFd(fd, datasync, ringline.UserData(ud))
}

func (u *engine) Statx(fd int, path *byte, mask uint32, buf *unix.Statx_t, ud uint64) error {
	if path == nil {
		return u.ring.SubmitStatxFd(fd, mask, buf, ringline.UserData(ud))
	}
	return u.ring.SubmitStatx(path, buf, ringline.UserData(ud))
}

func (u *engine) Rename(oldPath, newPath *byte, ud uint64) error {
	return u.ring.SubmitRenameat(oldPath, newPath, ringline.UserData(ud))
}

func (u *engine) Unlink(path *byte, dir bool, ud uint64) error {
	flags := 0
	if dir {
		flags = unix.AT_REMOVEDIR
	}
	return u.ring.SubmitUnlinkat(path, flags, ringline.UserData(ud))
}

func (u *engine) Mkdir(path *byte, mode uint32, ud uint64) error {
	return u.ring.SubmitMkdirat(path, mode, ringline.UserData(ud))
}

func (u *engine) Nvme(fd int, c *backend.NvmeCmd, ud uint64) error {
	var cmd ringline.NvmeUringCmd
	var err error
	switch c.Opcode {
	case backend.NvmeRead:
		cmd, err = ringline.NvmeRead(c.Nsid, c.SLBA, c.Blocks, c.Buf)
	case backend.NvmeWrite:
		cmd, err = ringline.NvmeWrite(c.Nsid, c.SLBA, c.Blocks, c.Buf)
	default:
		cmd = ringline.NvmeFlush(c.Nsid)
	}
	if err != nil {
		return err
	}
	return u.ring.SubmitNvmeCmdFd(fd, &cmd, ringline.UserData(ud))
}
