package ringline

import (
	"encoding/binary"
	"errors"
	"fmt"
	"syscall"
	"unsafe"
)

// NvmeUringCmdIO is the command number of an NVMe I/O passthrough command,
// _IOWR('N', 0x80, struct nvme_uring_cmd) = 0xC0484E80 (linux/nvme_ioctl.h).
// The Rust crate ringline 0.2.0 shipped 0 here, so every command it sent failed.
const NvmeUringCmdIO = 0xC0484E80

// NvmeUringCmdSize is the size of struct nvme_uring_cmd.
const NvmeUringCmdSize = 72

// NVMe I/O command set opcodes used by the helpers below.
const (
	NvmeOpFlush = 0x00
	NvmeOpWrite = 0x01
	NvmeOpRead  = 0x02
)

// NvmeMaxBlocks is the largest block count one read or write can carry (the
// 16-bit zero-based NLB field of CDW12).
const NvmeMaxBlocks = 1 << 16

// NvmeUringCmd is struct nvme_uring_cmd (Linux 5.19+), the 72 bytes that go
// into the command area of a 128-byte SQE for IORING_OP_URING_CMD.
type NvmeUringCmd struct {
	Opcode      uint8
	Flags       uint8
	Nsid        uint32 // namespace id
	Cdw2, Cdw3  uint32
	Metadata    uint64 // metadata buffer address
	Addr        uint64 // data buffer address
	MetadataLen uint32
	DataLen     uint32
	Cdw10       uint32 // read/write: starting LBA, low 32 bits
	Cdw11       uint32 // read/write: starting LBA, high 32 bits
	Cdw12       uint32 // read/write: number of blocks - 1 in bits 15..0
	Cdw13       uint32
	Cdw14       uint32
	Cdw15       uint32
	TimeoutMs   uint32
}

// Byte offsets of struct nvme_uring_cmd; rsvd1 is at 2 and rsvd2 at 68.
const (
	nvmeOffOpcode      = 0
	nvmeOffFlags       = 1
	nvmeOffNsid        = 4
	nvmeOffCdw2        = 8
	nvmeOffCdw3        = 12
	nvmeOffMetadata    = 16
	nvmeOffAddr        = 24
	nvmeOffMetadataLen = 32
	nvmeOffDataLen     = 36
	nvmeOffCdw10       = 40
	nvmeOffTimeoutMs   = 64
)

// MarshalTo writes the command in the kernel's layout (host byte order) into
// b, which must hold at least NvmeUringCmdSize bytes. Reserved fields are zeroed.
func (c *NvmeUringCmd) MarshalTo(b []byte) {
	_ = b[NvmeUringCmdSize-1]
	clear(b[:NvmeUringCmdSize])
	ne := binary.NativeEndian
	b[nvmeOffOpcode] = c.Opcode
	b[nvmeOffFlags] = c.Flags
	ne.PutUint32(b[nvmeOffNsid:], c.Nsid)
	ne.PutUint32(b[nvmeOffCdw2:], c.Cdw2)
	ne.PutUint32(b[nvmeOffCdw3:], c.Cdw3)
	ne.PutUint64(b[nvmeOffMetadata:], c.Metadata)
	ne.PutUint64(b[nvmeOffAddr:], c.Addr)
	ne.PutUint32(b[nvmeOffMetadataLen:], c.MetadataLen)
	ne.PutUint32(b[nvmeOffDataLen:], c.DataLen)
	for i, v := range c.cdws() {
		ne.PutUint32(b[nvmeOffCdw10+4*i:], v)
	}
	ne.PutUint32(b[nvmeOffTimeoutMs:], c.TimeoutMs)
}

func (c *NvmeUringCmd) cdws() [6]uint32 {
	return [6]uint32{c.Cdw10, c.Cdw11, c.Cdw12, c.Cdw13, c.Cdw14, c.Cdw15}
}

// ParseNvmeUringCmd decodes a command written by MarshalTo or the kernel's
// layout. It refuses a short buffer and non-zero reserved fields.
func ParseNvmeUringCmd(b []byte) (NvmeUringCmd, error) {
	if len(b) < NvmeUringCmdSize {
		return NvmeUringCmd{}, fmt.Errorf("ringline: nvme command: %d bytes, need %d", len(b), NvmeUringCmdSize)
	}
	ne := binary.NativeEndian
	if ne.Uint16(b[2:]) != 0 || ne.Uint32(b[68:]) != 0 {
		return NvmeUringCmd{}, errors.New("ringline: nvme command: reserved fields are not zero")
	}
	c := NvmeUringCmd{
		Opcode: b[nvmeOffOpcode], Flags: b[nvmeOffFlags],
		Nsid: ne.Uint32(b[nvmeOffNsid:]), Cdw2: ne.Uint32(b[nvmeOffCdw2:]), Cdw3: ne.Uint32(b[nvmeOffCdw3:]),
		Metadata: ne.Uint64(b[nvmeOffMetadata:]), Addr: ne.Uint64(b[nvmeOffAddr:]),
		MetadataLen: ne.Uint32(b[nvmeOffMetadataLen:]), DataLen: ne.Uint32(b[nvmeOffDataLen:]),
		TimeoutMs: ne.Uint32(b[nvmeOffTimeoutMs:]),
	}
	cdw := [6]*uint32{&c.Cdw10, &c.Cdw11, &c.Cdw12, &c.Cdw13, &c.Cdw14, &c.Cdw15}
	for i, p := range cdw {
		*p = ne.Uint32(b[nvmeOffCdw10+4*i:])
	}
	return c, nil
}

// NvmeRead builds a read of nblocks logical blocks starting at slba of
// namespace nsid into buf. buf must hold the blocks and stay valid (off the Go
// heap, or pinned) until the completion arrives.
func NvmeRead(nsid uint32, slba uint64, nblocks uint32, buf []byte) (NvmeUringCmd, error) {
	return nvmeRW(NvmeOpRead, nsid, slba, nblocks, buf)
}

// NvmeWrite builds a write of nblocks logical blocks from buf at slba; buf
// follows the same rules as for NvmeRead.
func NvmeWrite(nsid uint32, slba uint64, nblocks uint32, buf []byte) (NvmeUringCmd, error) {
	return nvmeRW(NvmeOpWrite, nsid, slba, nblocks, buf)
}

// NvmeFlush builds a flush of namespace nsid's volatile write cache.
func NvmeFlush(nsid uint32) NvmeUringCmd { return NvmeUringCmd{Opcode: NvmeOpFlush, Nsid: nsid} }

func nvmeRW(op uint8, nsid uint32, slba uint64, nblocks uint32, buf []byte) (NvmeUringCmd, error) {
	if nblocks == 0 || nblocks > NvmeMaxBlocks {
		return NvmeUringCmd{}, fmt.Errorf("ringline: nvme: block count %d outside 1..%d", nblocks, NvmeMaxBlocks)
	}
	if len(buf) == 0 || uint64(len(buf)) > uint64(^uint32(0)) {
		return NvmeUringCmd{}, fmt.Errorf("ringline: nvme: data buffer of %d bytes", len(buf))
	}
	return NvmeUringCmd{
		Opcode: op, Nsid: nsid,
		Addr:    uint64(uintptr(unsafe.Pointer(&buf[0]))),
		DataLen: uint32(len(buf)),
		Cdw10:   uint32(slba), Cdw11: uint32(slba >> 32),
		Cdw12: nblocks - 1,
	}, nil
}

// SLBA returns the starting logical block of a read or write.
func (c *NvmeUringCmd) SLBA() uint64 { return uint64(c.Cdw11)<<32 | uint64(c.Cdw10) }

// Blocks returns the block count of a read or write.
func (c *NvmeUringCmd) Blocks() uint32 { return c.Cdw12&0xFFFF + 1 }

// NvmeStatusError is a command the device completed with a non-zero NVMe
// status (status code and type, as the driver returns it in the CQE result).
type NvmeStatusError struct{ Status int32 }

// Error names the status.
func (e *NvmeStatusError) Error() string {
	return fmt.Sprintf("ringline: nvme command failed with status 0x%x", e.Status)
}

// NvmeResult interprets the completion of an NVMe passthrough command: the
// command's result dword (from the 32-byte CQE) or an error. A negative result
// is an errno; EOPNOTSUPP there means the file is not an NVMe generic
// character device.
func NvmeResult(c *Completion) (uint64, error) {
	switch {
	case c.Res == 0:
		return c.Extra[0], nil
	case c.Res > 0:
		return c.Extra[0], &NvmeStatusError{Status: c.Res}
	case syscall.Errno(-c.Res) == syscall.EOPNOTSUPP:
		return 0, &Error{Op: "nvme passthrough", Errno: syscall.EOPNOTSUPP,
			Hint: "the file does not accept uring_cmd: open the NVMe generic character device (/dev/ngXnY), not a block device or regular file"}
	default:
		return 0, &Error{Op: "nvme passthrough", Errno: syscall.Errno(-c.Res)}
	}
}
