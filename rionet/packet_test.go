//go:build linux

package rionet

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"testing"
	"time"

	"github.com/ringline-go/ringline/rio"
)

// PacketConn on each backend, IPv4 and IPv6: ReadFrom and WriteTo echo
// datagrams to a net.UDPConn client, each whole and to its sender; a read
// deadline in the past, and one that passes while waiting, fail with a
// timeout and can be extended; Close ends a blocked ReadFrom with
// net.ErrClosed.
func TestPacketConn(t *testing.T) {
	for _, b := range backends() {
		for _, addr := range []string{"127.0.0.1:0", "[::1]:0"} {
			t.Run(fmt.Sprintf("%s/%s", b, addr), func(t *testing.T) {
				pc, err := ListenPacket(context.Background(), "udp", addr, rio.Config{Backend: b, Workers: 2})
				if err != nil {
					t.Fatal(err)
				}
				pc.SetReadDeadline(time.Now().Add(-time.Second))
				var ne net.Error
				if _, _, err := pc.ReadFrom(make([]byte, 10)); !errors.As(err, &ne) || !ne.Timeout() || !errors.Is(err, os.ErrDeadlineExceeded) {
					t.Fatalf("ReadFrom past its deadline: %v, want a timeout", err)
				}
				pc.SetReadDeadline(time.Now().Add(30 * time.Millisecond))
				if _, _, err := pc.ReadFrom(make([]byte, 10)); !errors.Is(err, os.ErrDeadlineExceeded) {
					t.Fatalf("ReadFrom until its deadline passed: %v, want a timeout", err)
				}
				pc.SetReadDeadline(time.Time{})

				echoed := make(chan error, 1)
				go func() {
					buf := make([]byte, 2048)
					for {
						n, from, err := pc.ReadFrom(buf)
						if err != nil {
							echoed <- err
							return
						}
						if _, err := pc.WriteTo(buf[:n], from); err != nil {
							echoed <- err
							return
						}
					}
				}()
				c, err := net.DialUDP("udp", nil, pc.LocalAddr().(*net.UDPAddr))
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				for i := range 100 {
					msg := []byte(fmt.Sprintf("datagram %d via %s", i, addr))
					if _, err := c.Write(msg); err != nil {
						t.Fatal(err)
					}
					got := make([]byte, 100)
					n, err := c.Read(got)
					if err != nil || string(got[:n]) != string(msg) {
						t.Fatalf("echo %d: %q, %v", i, got[:n], err)
					}
				}
				if err := pc.Close(); err != nil {
					t.Fatal(err)
				}
				if err := <-echoed; !errors.Is(err, net.ErrClosed) {
					t.Fatalf("ReadFrom blocked across Close: %v, want net.ErrClosed", err)
				}
			})
		}
	}
}

// WriteTo waits while the worker's datagram send pool is full instead of
// failing: with one send slot, many writers at once all succeed.
func TestPacketConnWriteWaitsForRoom(t *testing.T) {
	for _, b := range backends() {
		t.Run(string(b), func(t *testing.T) {
			pc, err := ListenPacket(context.Background(), "udp", "127.0.0.1:0", rio.Config{Backend: b, Workers: 1, DgramSendSlots: 1})
			if err != nil {
				t.Fatal(err)
			}
			defer pc.Close()
			sink, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				t.Fatal(err)
			}
			defer sink.Close()
			go func() { // drain, so the sink's buffer never refuses
				buf := make([]byte, 2048)
				for {
					if _, err := sink.Read(buf); err != nil {
						return
					}
				}
			}()
			pc.SetWriteDeadline(time.Now().Add(60 * time.Second)) // a hang guard
			errs := make(chan error, 8)
			for range 8 {
				go func() {
					for i := range 200 {
						if _, err := pc.WriteTo([]byte(fmt.Sprintf("datagram %d", i)), sink.LocalAddr()); err != nil {
							errs <- err
							return
						}
					}
					errs <- nil
				}()
			}
			for range 8 {
				if err := <-errs; err != nil {
					t.Fatalf("WriteTo with a full pool: %v, want it to wait for room", err)
				}
			}
		})
	}
}
