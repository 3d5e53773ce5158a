//go:build linux

package main

import (
	"encoding/json"
	"net"
	"strings"
	"testing"
)

// A broken echo: mode "swap" sends each reply to the previous sender
// (peers crossed), mode "dup" echoes every datagram twice.
func brokenEcho(t *testing.T, mode string) string {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 2048)
		var pending []byte
		var pendingFrom net.Addr
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			to := from
			if mode == "swap" { // hold one datagram; when another peer's arrives, cross them
				if pending == nil || pendingFrom.String() == from.String() {
					pending, pendingFrom = append([]byte(nil), buf[:n]...), from
					continue
				}
				pc.WriteTo(pending, from)
				to, pending = pendingFrom, nil
			}
			pc.WriteTo(buf[:n], to)
			if mode == "dup" {
				pc.WriteTo(buf[:n], to)
			}
		}
	}()
	return pc.LocalAddr().String()
}

func TestBenchUDPCatchesBrokenServers(t *testing.T) {
	for _, mode := range []string{"swap", "dup"} {
		addr := brokenEcho(t, mode)
		code, out, errOut := runInProcess("bench", "--udp", "--addr", addr, "--conns", "2", "--pipeline", "1",
			"--size", "64", "--duration", "300ms", "--warmup", "50ms", "--timeout", "100ms", "--json")
		var r udpBenchResult
		json.Unmarshal([]byte(out), &r)
		t.Logf("%s server: exit %d datagrams %d lost %d errors %d %s", mode, code, r.Datagrams, r.Lost, r.Errors, errOut)
		if code == 0 && r.Errors == 0 {
			t.Errorf("bench --udp passes a server that %s replies", mode)
		}
	}
}

// bench picks the UDP mode for each spelling of a true --udp, and only
// for those.
func TestHasUDPFlag(t *testing.T) {
	for args, want := range map[string]bool{
		"--udp": true, "-udp": true, "--udp=true": true, "-udp=1": true,
		"--udp=false": false, "--udp=0": false, "--udpx": false, "--conns 4": false, "": false,
	} {
		if got := hasUDPFlag(strings.Fields(args)); got != want {
			t.Errorf("hasUDPFlag(%q) = %v, want %v", args, got, want)
		}
	}
}
