//go:build linux

package rio

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/ringline-go/ringline/internal/backend"
)

// NVMe passthrough: I/O commands by logical block to an NVMe generic
// character device (/dev/ngXnY), through IORING_OP_URING_CMD on io_uring
// and the NVMe I/O ioctl on the epoll engine's file threads.

// NvmeDevice is an NVMe namespace open on one worker. Its methods, like
// FileHandle's, are called on the worker and complete through callbacks.
type NvmeDevice struct {
	FileHandle
	nsid    uint32
	lbaSize uint32
}

// The NVMe ioctls OpenNvme asks the device with (linux/nvme_ioctl.h).
const (
	nvmeIoctlID    = 0x4E40     // NVME_IOCTL_ID: the namespace id
	nvmeIoctlAdmin = 0xC0484E41 // NVME_IOCTL_ADMIN_CMD, struct nvme_passthru_cmd
	nvmeIdentify   = 0x06       // admin opcode; CNS 0: Identify Namespace
)

// OpenNvme opens name, an NVMe generic character device, for reading and
// writing, and reads its namespace id and logical block size from the
// device (NVME_IOCTL_ID, then Identify Namespace: two ioctls on the
// worker's thread, which they block for as long as the device takes). A
// file that is not such a device fails with ErrNotNvme.
func (w *Worker) OpenNvme(name string, done func(NvmeDevice, error)) error {
	return w.OpenFile(name, os.O_RDWR, 0, func(h FileHandle, err error) {
		if err != nil {
			done(NvmeDevice{}, err)
			return
		}
		f := &w.files.files[h.idx]
		nsid, lba, err := identifyNvme(f.fd)
		if err != nil {
			err = &fs.PathError{Op: "open", Path: name, Err: err}
			if cerr := h.Close(func(error) { done(NvmeDevice{}, err) }); cerr != nil {
				done(NvmeDevice{}, errors.Join(err, cerr))
			}
			return
		}
		done(NvmeDevice{FileHandle: h, nsid: nsid, lbaSize: lba}, nil)
	})
}

// identifyNvme reads the namespace id of fd and its logical block size.
func identifyNvme(fd int) (nsid, lbaSize uint32, err error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return 0, 0, os.NewSyscallError("fstat", err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFCHR {
		return 0, 0, fmt.Errorf("%w (not a character device; the block device /dev/nvmeXnY takes no uring_cmd)", ErrNotNvme)
	}
	id, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), nvmeIoctlID, 0)
	switch {
	case e == unix.ENOTTY || e == unix.EINVAL || e == unix.ENOTSUP:
		return 0, 0, fmt.Errorf("%w (NVME_IOCTL_ID: %v)", ErrNotNvme, e)
	case e != 0:
		return 0, 0, os.NewSyscallError("ioctl NVME_IOCTL_ID", e)
	}
	nsid = uint32(id)
	page := AlignedBuffer(4096, 4096)
	var cmd [72]byte
	cmd[0] = nvmeIdentify
	binary.NativeEndian.PutUint32(cmd[4:], nsid)
	binary.NativeEndian.PutUint64(cmd[24:], uint64(uintptr(unsafe.Pointer(&page[0]))))
	binary.NativeEndian.PutUint32(cmd[36:], uint32(len(page)))
	_, _, e = unix.Syscall(unix.SYS_IOCTL, uintptr(fd), nvmeIoctlAdmin, uintptr(unsafe.Pointer(&cmd[0])))
	if e != 0 {
		return 0, 0, os.NewSyscallError("ioctl NVME_IOCTL_ADMIN_CMD (Identify Namespace)", e)
	}
	flbas := page[26]
	format := int(flbas&0x0f) | int(flbas>>5&0x03)<<4
	lbads := page[128+4*format+2]
	if lbads < 9 || lbads > 16 {
		return 0, 0, fmt.Errorf("rio: Identify Namespace: LBA format %d has LBADS %d, not a block size", format, lbads)
	}
	return nsid, 1 << lbads, nil
}

// Nsid is the namespace id the device reported.
func (d NvmeDevice) Nsid() uint32 { return d.nsid }

// BlockSize is the namespace's logical block size in bytes.
func (d NvmeDevice) BlockSize() int { return int(d.lbaSize) }

// ReadBlocks reads len(buf)/BlockSize() blocks from block lba into buf,
// which must be a whole number of blocks, at most 65536 of them; buf is
// pinned until done runs.
func (d NvmeDevice) ReadBlocks(lba uint64, buf []byte, done func(error)) error {
	return d.cmd("read", backend.NvmeRead, lba, buf, done)
}

// WriteBlocks writes buf, a whole number of blocks, from block lba.
func (d NvmeDevice) WriteBlocks(lba uint64, buf []byte, done func(error)) error {
	return d.cmd("write", backend.NvmeWrite, lba, buf, done)
}

// Flush commits the namespace's volatile write cache.
func (d NvmeDevice) Flush(done func(error)) error {
	return d.cmd("flush", backend.NvmeFlush, 0, nil, done)
}

func (d NvmeDevice) cmd(op string, opcode uint8, lba uint64, buf []byte, done func(error)) error {
	f, err := d.file(op)
	if err != nil {
		return err
	}
	c := backend.NvmeCmd{Opcode: opcode, Nsid: d.nsid, SLBA: lba, Buf: buf}
	if opcode != backend.NvmeFlush {
		if d.lbaSize == 0 || len(buf) == 0 || len(buf)%int(d.lbaSize) != 0 || len(buf)/int(d.lbaSize) > 1<<16 {
			return &fs.PathError{Op: op, Path: f.name, Err: fmt.Errorf("%w: %d bytes is not 1 to 65536 blocks of %d", ErrMisaligned, len(buf), d.lbaSize)}
		}
		c.Blocks = uint32(len(buf) / int(d.lbaSize))
	}
	name := f.name
	idx, o, err := d.w.takeOp(int32(d.idx), func(res int32, _ uint64) {
		switch {
		case res > 0:
			done(&fs.PathError{Op: op, Path: name, Err: &NvmeStatusError{Status: uint16(res)}})
		default:
			done(fileErr(op, name, res))
		}
	})
	if err != nil {
		return &fs.PathError{Op: op, Path: name, Err: err}
	}
	o.pinBuf(buf)
	return d.w.startFailed(idx, op, name, d.w.be.Nvme(f.fd, &c, d.w.files.ud(idx)))
}

// NvmeStatusError is an NVMe command that completed with a non-zero status
// (status code type and code, NVMe base specification, Figure "Status
// Field"). It matches syscall.EIO.
type NvmeStatusError struct{ Status uint16 }

// Error says the status.
func (e *NvmeStatusError) Error() string { return fmt.Sprintf("rio: NVMe status %#x", e.Status) }

// Is reports whether target is syscall.EIO.
func (e *NvmeStatusError) Is(target error) bool { return target == syscall.EIO }
