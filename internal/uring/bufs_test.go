//go:build linux && cgo

package uring

import (
	"bytes"
	"fmt"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ringline-go/ringline/internal/backend"
)

// recvPair is a connected stream socket pair, closed at the end of the test.
func recvPair(t *testing.T) (server, client int) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fds[0]); unix.Close(fds[1]) })
	return fds[0], fds[1]
}

// bufCfg has room for 256 buffers of 64 bytes.
var bufCfg = backend.Config{Entries: 16, BufEntries: 256, BufSize: 64}

// A receive that finds the provided buffers all in use runs dry, and the
// engine then provides twice as many: with every buffer held, 256 buffers'
// worth arrives whole, in ids 0 to 255 in order, each used once.
func TestBuffersProvidedAsDemandGrows(t *testing.T) {
	server, client := recvPair(t)
	want := make([]byte, bufCfg.BufEntries*bufCfg.BufSize)
	for i := range want {
		want[i] = byte(i*7 + i/251)
	}
	if n, err := unix.Write(client, want); n != len(want) {
		t.Fatalf("write: %d of %d bytes, %v", n, len(want), err)
	}
	onEngineWith(t, bufCfg, func(be backend.Backend) {
		var got []byte
		var ids []uint16
		dry := 0
		err := be.Recv(server, 1)
		for err == nil && len(got) < len(want) {
			var cqes []backend.Completion
			if cqes, err = be.Wait(1, 5*time.Second); err == nil && len(cqes) == 0 {
				err = fmt.Errorf("no completion in 5s with %d of %d bytes", len(got), len(want))
			}
			for _, c := range cqes {
				switch {
				case c.Res == -int32(syscall.ENOBUFS):
					if dry++; dry > 8 {
						err = fmt.Errorf("ran dry %d times with %d of %d bytes in", dry, len(got), len(want))
					}
				case c.Res > 0 && c.Flags&backend.FlagBuffer != 0:
					id := uint16(c.Flags >> backend.BufferShift)
					ids = append(ids, id)
					got = append(got, be.Buffer(id)[:c.Res]...) // held: never released
				default:
					err = fmt.Errorf("completion res %d flags %#x", c.Res, c.Flags)
				}
				if err == nil && c.Flags&backend.FlagMore == 0 {
					err = be.Recv(server, 1) // ended (ran dry, or the CQ was full): the next Wait provides more first
				}
			}
		}
		if err != nil {
			t.Error(err)
		}
		if dry == 0 {
			t.Error("the receive never ran dry with only the first buffers provided")
		}
		for i, id := range ids {
			if int(id) != i {
				t.Errorf("buffer ids %v, want 0 to 255 in order", ids)
				break
			}
		}
		if !bytes.Equal(got, want) {
			t.Errorf("received %d bytes, differing from the %d written", len(got), len(want))
		}
		for _, id := range ids {
			be.Release(id)
		}
		if out := be.(*engine).out; out != 0 {
			t.Errorf("%d buffers counted out after every one was released", out)
		}
	})
}

// Messages received one at a time, each buffer released before the next,
// only ever use the first buffers provided: the rest of the ring's memory is
// never written.
func TestBuffersReleasedPromptlyStayInFirstBatch(t *testing.T) {
	server, client := recvPair(t)
	onEngineWith(t, bufCfg, func(be backend.Backend) {
		err := be.Recv(server, 1)
		for i := 0; err == nil && i < 4*bufCfg.BufEntries; i++ {
			msg := []byte{byte(i), byte(i >> 8)}
			if _, err = unix.Write(client, msg); err != nil {
				break
			}
			var cqes []backend.Completion
			if cqes, err = be.Wait(1, 5*time.Second); err == nil && len(cqes) != 1 {
				err = fmt.Errorf("message %d: %d completions", i, len(cqes))
			}
			if err != nil {
				break
			}
			c := cqes[0]
			id := uint16(c.Flags >> backend.BufferShift)
			switch {
			case c.Res != 2 || c.Flags&backend.FlagBuffer == 0 || !bytes.Equal(be.Buffer(id)[:2], msg):
				err = fmt.Errorf("message %d: res %d flags %#x", i, c.Res, c.Flags)
			case id >= firstBuffers:
				err = fmt.Errorf("message %d landed in buffer %d, beyond the first %d", i, id, firstBuffers)
			}
			be.Release(id)
		}
		if err != nil {
			t.Error(err)
		}
	})
}

// Buffers released in the same round they were reaped, as the worker
// releases them, still count: a round that fills more than three quarters
// of the buffers provided makes the engine provide more, so the next such
// round does not run dry.
func TestBuffersGrowWhenReleasedEachRound(t *testing.T) {
	const conns = 100
	servers := make([]int, conns)
	clients := make([]int, conns)
	for i := range servers {
		servers[i], clients[i] = recvPair(t)
	}
	onEngineWith(t, backend.Config{Entries: 256, BufEntries: 256, BufSize: 64}, func(be backend.Backend) {
		var err error
		for i := 0; err == nil && i < conns; i++ {
			err = be.Recv(servers[i], uint64(i))
		}
		dry := make([]int, 2)
		for round := 0; err == nil && round < 2; round++ {
			for _, c := range clients {
				if _, err = unix.Write(c, []byte{byte(round)}); err != nil {
					break
				}
			}
			got := 0
			for err == nil && got < conns {
				var cqes []backend.Completion
				if cqes, err = be.Wait(1, 5*time.Second); err == nil && len(cqes) == 0 {
					err = fmt.Errorf("round %d: no completion in 5s with %d of %d", round, got, conns)
				}
				for _, c := range cqes {
					switch {
					case c.Res == -int32(syscall.ENOBUFS):
						dry[round]++
						err = be.Recv(servers[c.UserData], c.UserData)
					case c.Res == 1 && c.Flags&backend.FlagBuffer != 0:
						got++
						be.Release(uint16(c.Flags >> backend.BufferShift)) // in the same round
					default:
						err = fmt.Errorf("round %d: completion res %d flags %#x", round, c.Res, c.Flags)
					}
				}
			}
		}
		if err != nil {
			t.Error(err)
		}
		if provided := be.(*engine).provided; provided <= firstBuffers || dry[1] != 0 {
			t.Errorf("provided %d buffers; ran dry %d times in round 1 and %d in round 2; want more than %d provided and no run dry in round 2",
				provided, dry[0], dry[1], firstBuffers)
		}
	})
}
