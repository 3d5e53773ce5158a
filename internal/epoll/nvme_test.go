//go:build linux

package epoll

import (
	"bytes"
	"testing"

	"github.com/ringline-go/ringline"
	"github.com/ringline-go/ringline/internal/backend"
)

// The ioctl's struct nvme_passthru_cmd64 must begin exactly as the
// binding's struct nvme_uring_cmd does (the kernel lays both out alike),
// byte for byte, for reads, writes and flushes; its last 8 bytes, the
// result, start zeroed.
func TestNvmeIoctlLayoutMatchesUringCmd(t *testing.T) {
	buf := make([]byte, 8192)
	for _, c := range []backend.NvmeCmd{
		{Opcode: backend.NvmeRead, Nsid: 3, SLBA: 0x1_2345_6789, Blocks: 16, Buf: buf},
		{Opcode: backend.NvmeWrite, Nsid: 0xfffffffe, SLBA: 7, Blocks: 1 << 16, Buf: buf},
		{Opcode: backend.NvmeFlush, Nsid: 1},
	} {
		got, err := nvmeIoctlCmd(&c)
		if err != nil {
			t.Fatal(err)
		}
		var want ringline.NvmeUringCmd
		switch c.Opcode {
		case backend.NvmeRead:
			want, err = ringline.NvmeRead(c.Nsid, c.SLBA, c.Blocks, c.Buf)
		case backend.NvmeWrite:
			want, err = ringline.NvmeWrite(c.Nsid, c.SLBA, c.Blocks, c.Buf)
		default:
			want = ringline.NvmeFlush(c.Nsid)
		}
		if err != nil {
			t.Fatal(err)
		}
		wantBytes := make([]byte, ringline.NvmeUringCmdSize)
		want.MarshalTo(wantBytes)
		if !bytes.Equal(got[:ringline.NvmeUringCmdSize], wantBytes) || !bytes.Equal(got[72:], make([]byte, 8)) {
			t.Errorf("opcode %d:\n ioctl % x\n uring % x", c.Opcode, got[:72], wantBytes)
		}
	}
	if _, err := nvmeIoctlCmd(&backend.NvmeCmd{Opcode: backend.NvmeRead, Nsid: 1, Blocks: 0, Buf: buf}); err == nil {
		t.Error("a read of 0 blocks was encoded")
	}
}
