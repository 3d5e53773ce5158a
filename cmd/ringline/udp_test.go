//go:build linux

package main

import (
	"encoding/json"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestEchoUDPWithBench runs "ringline echo --udp" on each backend and
// drives it with "ringline bench --udp": the first line has the TCP echo's
// form, every datagram comes back checked, none is lost on loopback, and
// the server's CPU is measured.
func TestEchoUDPWithBench(t *testing.T) {
	for _, backend := range []string{"uring", "epoll", "net"} {
		t.Run(backend, func(t *testing.T) {
			if backend == "uring" {
				requireIOUring(t)
			}
			cmd, addr, line := startEcho(t, "--udp", "--addr", "127.0.0.1:0", "--backend", backend, "--workers", "1")
			want := map[string]string{"uring": "backend=io_uring workers=1", "epoll": "backend=epoll workers=1", "net": "backend=net workers="}[backend]
			if !strings.Contains(line, want) {
				t.Errorf("first line %q, want it to contain %q", line, want)
			}
			code, out, errOut := runCmd(t, 30*time.Second, "bench", "--udp", "--addr", addr, "--conns", "4", "--pipeline", "4",
				"--size", "100", "--duration", "300ms", "--warmup", "100ms", "--timeout", "2s", "--server-pid", strconv.Itoa(cmd.Process.Pid), "--json")
			if code != 0 {
				t.Fatalf("bench --udp: exit %d: %s", code, errOut)
			}
			var r udpBenchResult
			if err := json.Unmarshal([]byte(out), &r); err != nil {
				t.Fatalf("%q: %v", out, err)
			}
			if r.Datagrams == 0 || r.Errors != 0 || r.Lost != 0 || r.ServerCPUSeconds <= 0 || r.P50us <= 0 {
				t.Fatalf("bench --udp: %+v; want datagrams echoed and checked, the server's CPU measured", r)
			}
			cmd.Process.Signal(syscall.SIGINT)
			if err := cmd.Wait(); err != nil {
				t.Errorf("exit after SIGINT: %v", err)
			}
		})
	}
}

// TestBenchUDPBadFlags checks bench --udp's flag errors exit 2.
func TestBenchUDPBadFlags(t *testing.T) {
	for _, args := range [][]string{{"--size", "8"}, {"--conns", "0"}, {"--pipeline", "0"}, {"--timeout", "0s"}, {"extra"}} {
		code, _, errOut := runInProcess(append([]string{"bench", "--udp"}, args...)...)
		if code != 2 || !strings.Contains(errOut, "bench --udp") {
			t.Errorf("bench --udp %v: exit %d, stderr %q; want 2", args, code, errOut)
		}
	}
}

// TestCompareUDP runs compare --udp briefly: a row per server, each with
// datagrams echoed and no error, and the TCP-only peers refused.
func TestCompareUDP(t *testing.T) {
	code, out, errOut := runCmd(t, 60*time.Second, "compare", "--udp", "--servers", "epoll,net", "--runs", "1",
		"--duration", "300ms", "--warmup", "100ms", "--conns", "2", "--pipeline", "2", "--size", "64", "--json")
	if code != 0 {
		t.Fatalf("compare --udp: exit %d: %s", code, errOut)
	}
	for _, server := range []string{`"epoll"`, `"net"`} {
		if !strings.Contains(out, server) || !strings.Contains(out, "UDP sockets") {
			t.Fatalf("compare --udp output lacks %s or the UDP setup: %s", server, out)
		}
	}
	if code, _, errOut := runInProcess("compare", "--udp", "--c-server", "/bin/true"); code != 2 || !strings.Contains(errOut, "TCP only") {
		t.Fatalf("compare --udp --c-server: exit %d, %q; want 2", code, errOut)
	}
}
