package ringline

// Regression tests for nvme.go. They guard the NVMe passthrough command: its
// command number (the Rust crate ringline 0.2.0 shipped 0 for
// NVME_URING_CMD_IO, so every command it sent failed), the byte layout of
// struct nvme_uring_cmd as the kernel reads it, the read/write/flush builders
// and the interpretation of the completion result.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"syscall"
	"testing"
	"unsafe"
)

func TestNvmeUringCmdIO(t *testing.T) {
	// _IOWR('N', 0x80, struct nvme_uring_cmd): dir READ|WRITE (3) in bits
	// 31..30, size in bits 29..16, type in bits 15..8, nr in bits 7..0.
	const computed = 3<<30 | 72<<16 | 'N'<<8 | 0x80
	if uint32(NvmeUringCmdIO) != 0xC0484E80 {
		t.Errorf("NvmeUringCmdIO = %#x, want 0xC0484E80", uint32(NvmeUringCmdIO))
	}
	if uint32(NvmeUringCmdIO) != uint32(computed) {
		t.Errorf("NvmeUringCmdIO = %#x, want _IOWR('N', 0x80, 72) = %#x", uint32(NvmeUringCmdIO), uint32(computed))
	}
}

// nvmeLayoutCmd has a distinct value in every field, so a field written at the
// wrong offset or with the wrong width shows in the bytes.
var nvmeLayoutCmd = NvmeUringCmd{
	Opcode: 0x02, Flags: 0x5A, Nsid: 0x11223344,
	Cdw2: 0x21222324, Cdw3: 0x31323334,
	Metadata: 0x0102030405060708, Addr: 0x4142434445464748,
	MetadataLen: 0x51525354, DataLen: 0x61626364,
	Cdw10: 0x71727374, Cdw11: 0x81828384, Cdw12: 0x91929394,
	Cdw13: 0xA1A2A3A4, Cdw14: 0xB1B2B3B4, Cdw15: 0xC1C2C3C4,
	TimeoutMs: 0xD1D2D3D4,
}

// nvmeLayoutBytes is nvmeLayoutCmd as the kernel's struct nvme_uring_cmd
// (include/uapi/linux/nvme_ioctl.h) on a little-endian host.
var nvmeLayoutBytes = [NvmeUringCmdSize]byte{
	0x02, 0x5A, 0x00, 0x00, // opcode, flags, rsvd1
	0x44, 0x33, 0x22, 0x11, // nsid @4
	0x24, 0x23, 0x22, 0x21, // cdw2 @8
	0x34, 0x33, 0x32, 0x31, // cdw3 @12
	0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, // metadata @16
	0x48, 0x47, 0x46, 0x45, 0x44, 0x43, 0x42, 0x41, // addr @24
	0x54, 0x53, 0x52, 0x51, // metadata_len @32
	0x64, 0x63, 0x62, 0x61, // data_len @36
	0x74, 0x73, 0x72, 0x71, // cdw10 @40
	0x84, 0x83, 0x82, 0x81, // cdw11 @44
	0x94, 0x93, 0x92, 0x91, // cdw12 @48
	0xA4, 0xA3, 0xA2, 0xA1, // cdw13 @52
	0xB4, 0xB3, 0xB2, 0xB1, // cdw14 @56
	0xC4, 0xC3, 0xC2, 0xC1, // cdw15 @60
	0xD4, 0xD3, 0xD2, 0xD1, // timeout_ms @64
	0x00, 0x00, 0x00, 0x00, // rsvd2 @68
}

func TestNvmeUringCmdLayout(t *testing.T) {
	if binary.NativeEndian.Uint16([]byte{1, 0}) != 1 {
		t.Skip("expected bytes are written for a little-endian host; this host is big-endian")
	}
	backing := bytes.Repeat([]byte{0xEE}, NvmeUringCmdSize+8)
	buf := backing[:NvmeUringCmdSize]
	cmd := nvmeLayoutCmd
	cmd.MarshalTo(buf)
	for i := range nvmeLayoutBytes {
		if buf[i] != nvmeLayoutBytes[i] {
			t.Errorf("byte %d = %#02x, want %#02x", i, buf[i], nvmeLayoutBytes[i])
		}
	}
	for _, i := range []int{2, 3, 68, 69, 70, 71} {
		if buf[i] != 0 {
			t.Errorf("reserved byte %d = %#02x, want 0", i, buf[i])
		}
	}
	for i := NvmeUringCmdSize; i < len(backing); i++ {
		if backing[i] != 0xEE {
			t.Errorf("MarshalTo wrote byte %d past the command (%#02x), want it left at 0xEE", i, backing[i])
		}
	}
}

func TestNvmeMarshalToShortBufferPanics(t *testing.T) {
	for _, n := range []int{0, 1, NvmeUringCmdSize - 1} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("MarshalTo(%d-byte buffer) did not panic, want a panic", n)
				}
			}()
			cmd := nvmeLayoutCmd
			cmd.MarshalTo(make([]byte, n))
		}()
	}
}

func TestNvmeReadWrite(t *testing.T) {
	const nsid, slba = 1, 0x0000_0012_3456_789A
	builders := []struct {
		name   string
		build  func(uint32, uint64, uint32, []byte) (NvmeUringCmd, error)
		opcode uint8
	}{
		{"read", NvmeRead, NvmeOpRead},
		{"write", NvmeWrite, NvmeOpWrite},
	}
	for _, b := range builders {
		t.Run(b.name, func(t *testing.T) {
			for _, tc := range []struct{ nblocks, cdw12 uint32 }{{1, 0}, {8, 7}, {NvmeMaxBlocks, 0xFFFF}} {
				buf := make([]byte, 4096)
				got, err := b.build(nsid, slba, tc.nblocks, buf)
				if err != nil {
					t.Fatalf("%s(nblocks %d): got error %v, want nil", b.name, tc.nblocks, err)
				}
				want := NvmeUringCmd{
					Opcode: b.opcode, Nsid: nsid,
					Addr: uint64(uintptr(unsafe.Pointer(&buf[0]))), DataLen: uint32(len(buf)),
					Cdw10: 0x3456789A, Cdw11: 0x12, Cdw12: tc.cdw12,
				}
				if got != want {
					t.Errorf("%s(nblocks %d) =\n%+v\nwant\n%+v", b.name, tc.nblocks, got, want)
				}
				if s := got.SLBA(); s != slba {
					t.Errorf("%s(nblocks %d).SLBA() = %#x, want %#x", b.name, tc.nblocks, s, uint64(slba))
				}
				if n := got.Blocks(); n != tc.nblocks {
					t.Errorf("%s(nblocks %d).Blocks() = %d, want %d", b.name, tc.nblocks, n, tc.nblocks)
				}
			}
			for _, nblocks := range []uint32{0, NvmeMaxBlocks + 1, 0xFFFFFFFF} {
				if cmd, err := b.build(nsid, slba, nblocks, make([]byte, 512)); err == nil {
					t.Errorf("%s(nblocks %d) = %+v, nil; want an error", b.name, nblocks, cmd)
				}
			}
			for _, buf := range [][]byte{nil, {}} {
				if cmd, err := b.build(nsid, slba, 1, buf); err == nil {
					t.Errorf("%s(empty buffer) = %+v, nil; want an error", b.name, cmd)
				}
			}
		})
	}
	if got, want := NvmeFlush(7), (NvmeUringCmd{Opcode: 0, Nsid: 7}); got != want {
		t.Errorf("NvmeFlush(7) = %+v, want %+v", got, want)
	}
}

// nvmeLayoutWire returns nvmeLayoutCmd marshalled in host byte order.
func nvmeLayoutWire() []byte {
	buf := make([]byte, NvmeUringCmdSize)
	cmd := nvmeLayoutCmd
	cmd.MarshalTo(buf)
	return buf
}

func TestParseNvmeUringCmd(t *testing.T) {
	buf := nvmeLayoutWire()
	got, err := ParseNvmeUringCmd(buf)
	if err != nil {
		t.Fatalf("ParseNvmeUringCmd(marshalled): got error %v, want nil", err)
	}
	if got != nvmeLayoutCmd {
		t.Errorf("ParseNvmeUringCmd(marshalled) =\n%+v\nwant\n%+v", got, nvmeLayoutCmd)
	}
	long := append(append([]byte(nil), buf...), 0xEE, 0xEE) // trailing bytes are ignored
	if got, err := ParseNvmeUringCmd(long); err != nil || got != nvmeLayoutCmd {
		t.Errorf("ParseNvmeUringCmd(74 bytes) = %+v, %v; want %+v, nil", got, err, nvmeLayoutCmd)
	}
	for _, n := range []int{0, 1, NvmeUringCmdSize - 1} {
		if _, err := ParseNvmeUringCmd(buf[:n]); err == nil {
			t.Errorf("ParseNvmeUringCmd(%d bytes): got nil error, want a refusal", n)
		}
	}
	for _, i := range []int{2, 3, 68, 69, 70, 71} {
		bad := append([]byte(nil), buf...)
		bad[i] = 1
		if _, err := ParseNvmeUringCmd(bad); err == nil {
			t.Errorf("ParseNvmeUringCmd(reserved byte %d = 1): got nil error, want a refusal", i)
		}
	}
}

func TestNvmeResult(t *testing.T) {
	c := &Completion{Res: 0, Extra: [2]uint64{0xDEADBEEF, 9}}
	if v, err := NvmeResult(c); err != nil || v != 0xDEADBEEF {
		t.Errorf("NvmeResult(Res 0) = %#x, %v; want 0xdeadbeef, nil", v, err)
	}
	c = &Completion{Res: 0x4002, Extra: [2]uint64{5, 0}}
	_, err := NvmeResult(c)
	var status *NvmeStatusError
	if !errors.As(err, &status) {
		t.Fatalf("NvmeResult(Res 0x4002): error %v (%T), want *NvmeStatusError", err, err)
	}
	if status.Status != 0x4002 {
		t.Errorf("NvmeResult(Res 0x4002): status %#x, want 0x4002", status.Status)
	}
	c = &Completion{Res: -int32(syscall.EOPNOTSUPP)}
	_, err = NvmeResult(c)
	if !errors.Is(err, syscall.EOPNOTSUPP) {
		t.Fatalf("NvmeResult(-EOPNOTSUPP): error %v, want errors.Is EOPNOTSUPP", err)
	}
	if !strings.Contains(err.Error(), "/dev/ng") {
		t.Errorf("NvmeResult(-EOPNOTSUPP): message %q, want it to point at /dev/ngXnY", err.Error())
	}
	for _, errno := range []syscall.Errno{syscall.EIO, syscall.EINVAL, syscall.EBADF} {
		c = &Completion{Res: -int32(errno)}
		v, err := NvmeResult(c)
		if !errors.Is(err, errno) || v != 0 {
			t.Errorf("NvmeResult(-%d) = %d, %v; want 0 and errors.Is %v", int(errno), v, err, errno)
		}
		if errors.As(err, &status) {
			t.Errorf("NvmeResult(-%d): error %v is an *NvmeStatusError, want an errno", int(errno), err)
		}
	}
}

func FuzzNvmeUringCmd(f *testing.F) {
	good := nvmeLayoutWire()
	f.Add(good)
	f.Add(make([]byte, NvmeUringCmdSize))
	f.Add(make([]byte, NvmeUringCmdSize-1))
	f.Add(append(append([]byte(nil), good...), 1, 2, 3))
	f.Add(bytes.Repeat([]byte{0xFF}, NvmeUringCmdSize))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseNvmeUringCmd(data)
		if err != nil {
			if len(data) >= NvmeUringCmdSize && binary.NativeEndian.Uint16(data[2:]) == 0 &&
				binary.NativeEndian.Uint32(data[68:]) == 0 {
				t.Fatalf("ParseNvmeUringCmd(%x): error %v, want success (long enough, reserved zero)", data, err)
			}
			return
		}
		out := make([]byte, NvmeUringCmdSize)
		c.MarshalTo(out)
		if !bytes.Equal(out, data[:NvmeUringCmdSize]) {
			t.Fatalf("MarshalTo(ParseNvmeUringCmd(data)) =\n%x\nwant\n%x", out, data[:NvmeUringCmdSize])
		}
	})
}

func FuzzNvmeRoundTrip(f *testing.F) {
	c := nvmeLayoutCmd
	f.Add(c.Opcode, c.Flags, c.Nsid, c.Cdw2, c.Cdw3, c.Metadata, c.Addr, c.MetadataLen, c.DataLen,
		c.Cdw10, c.Cdw11, c.Cdw12, c.Cdw13, c.Cdw14, c.Cdw15, c.TimeoutMs)
	const m32, m64 = 0xFFFFFFFF, 0xFFFFFFFFFFFFFFFF
	f.Add(uint8(0xFF), uint8(0xFF), uint32(m32), uint32(m32), uint32(m32), uint64(m64), uint64(m64), uint32(m32),
		uint32(m32), uint32(m32), uint32(m32), uint32(m32), uint32(m32), uint32(m32), uint32(m32), uint32(m32))
	f.Fuzz(func(t *testing.T, opcode, flags uint8, nsid, cdw2, cdw3 uint32, metadata, addr uint64,
		metadataLen, dataLen, cdw10, cdw11, cdw12, cdw13, cdw14, cdw15, timeoutMs uint32) {
		in := NvmeUringCmd{
			Opcode: opcode, Flags: flags, Nsid: nsid, Cdw2: cdw2, Cdw3: cdw3,
			Metadata: metadata, Addr: addr, MetadataLen: metadataLen, DataLen: dataLen,
			Cdw10: cdw10, Cdw11: cdw11, Cdw12: cdw12, Cdw13: cdw13, Cdw14: cdw14, Cdw15: cdw15,
			TimeoutMs: timeoutMs,
		}
		buf := make([]byte, NvmeUringCmdSize)
		in.MarshalTo(buf)
		out, err := ParseNvmeUringCmd(buf)
		if err != nil {
			t.Fatalf("ParseNvmeUringCmd(MarshalTo(%+v)): error %v", in, err)
		}
		if out != in {
			t.Fatalf("ParseNvmeUringCmd(MarshalTo(cmd)) =\n%+v\nwant\n%+v", out, in)
		}
	})
}
