//go:build linux

package main

import (
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestEchoServes runs "ringline echo" for each backend this build has and
// Go's net: the first line has the promised form, bytes come back, and
// SIGINT ends the process with status 0.
func TestEchoServes(t *testing.T) {
	for _, backend := range []string{"uring", "epoll", "net"} {
		t.Run(backend, func(t *testing.T) {
			if backend == "uring" {
				requireIOUring(t)
			}
			cmd, addr, line := startEcho(t, "--addr", "127.0.0.1:0", "--backend", backend, "--workers", "1")
			want := map[string]string{"uring": "backend=io_uring workers=1", "epoll": "backend=epoll workers=1", "net": "backend=net workers="}[backend]
			if !strings.Contains(line, want) {
				t.Errorf("first line %q, want it to contain %q", line, want)
			}
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			c.SetDeadline(time.Now().Add(30 * time.Second))
			msg := strings.Repeat("ringline ", 1000)
			go io.WriteString(c, msg)
			got := make([]byte, len(msg))
			if _, err := io.ReadFull(c, got); err != nil || string(got) != msg {
				t.Errorf("echo: %v", err)
			}
			c.Close()
			cmd.Process.Signal(syscall.SIGINT)
			if err := cmd.Wait(); err != nil {
				t.Errorf("exit after SIGINT: %v", err)
			}
		})
	}
}

// TestEchoModes runs "ringline echo" in each --mode on epoll (and io_uring
// where it runs), with a small Config given as flags: 4 KiB send slots, an
// 8 KiB send budget, 4 receive buffers of 4 KiB. 256 KiB must come back
// intact through every handler style.
func TestEchoModes(t *testing.T) {
	for _, backend := range []string{"uring", "epoll"} {
		for _, mode := range []string{"copy-whole", "copy-some", "zerocopy"} {
			t.Run(backend+"/"+mode, func(t *testing.T) {
				if backend == "uring" {
					requireIOUring(t)
				}
				cmd, addr, _ := startEcho(t, "--addr", "127.0.0.1:0", "--backend", backend, "--workers", "1", "--mode", mode,
					"--send-slots", "16", "--send-slot-size", "4096", "--send-budget", "8192", "--buf-entries", "4", "--buf-size", "4096")
				c, err := net.Dial("tcp", addr)
				if err != nil {
					t.Fatal(err)
				}
				c.SetDeadline(time.Now().Add(30 * time.Second))
				msg := strings.Repeat("0123456789abcdef", 16<<10)
				go io.WriteString(c, msg)
				got := make([]byte, len(msg))
				if _, err := io.ReadFull(c, got); err != nil || string(got) != msg {
					t.Errorf("echo of %d bytes: %v", len(msg), err)
				}
				c.Close()
				cmd.Process.Signal(syscall.SIGINT)
				if err := cmd.Wait(); err != nil {
					t.Errorf("exit after SIGINT: %v", err)
				}
			})
		}
	}
}

// TestEchoUnixSocket serves on a Unix socket path.
func TestEchoUnixSocket(t *testing.T) {
	path := t.TempDir() + "/echo.sock"
	cmd, addr, _ := startEcho(t, "--unix", path, "--workers", "1")
	if addr != path {
		t.Errorf("listening on %q, want %q", addr, path)
	}
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(30 * time.Second))
	io.WriteString(c, "hello")
	got := make([]byte, 5)
	if _, err := io.ReadFull(c, got); err != nil || string(got) != "hello" {
		t.Errorf("echo over %s: %q, %v", path, got, err)
	}
	c.Close()
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Errorf("exit after SIGTERM: %v", err)
	}
}

// TestEchoSecondSignalClosesAtOnce checks that with a client still
// connected, the first signal starts a graceful shutdown and a second one
// ends the process at once.
func TestEchoSecondSignalClosesAtOnce(t *testing.T) {
	cmd, addr, _ := startEcho(t, "--addr", "127.0.0.1:0", "--workers", "1")
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("x")) // opened and served: the graceful close will wait for our FIN
	c.Read(make([]byte, 1))
	cmd.Process.Signal(syscall.SIGINT)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		t.Fatalf("exited (%v) on the first signal while a client held its connection open", err)
	case <-time.After(300 * time.Millisecond):
	}
	cmd.Process.Signal(syscall.SIGINT)
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("exit after the second signal: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("still running 30 s after the second signal")
	}
}

// TestEchoErrors checks bad flags (exit 2) and servers that cannot start
// (exit 1), each with a message that says why.
func TestEchoErrors(t *testing.T) {
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	for _, tc := range []struct {
		args    []string
		code    int
		msg     string
		noUring bool // the case is for a build or kernel without io_uring
	}{
		{[]string{"--workers", "-1"}, 2, "--workers", false},
		{[]string{"--max-conns", "-1"}, 2, "--max-conns", false},
		{[]string{"--mode", "splice"}, 2, "--mode", false},
		{[]string{"--send-budget", "-5"}, 2, "--send-budget -5", false},
		{[]string{"--buf-entries", "3"}, 2, "Config.BufEntries", false},
		{[]string{"--backend", "net", "--mode", "copy-some"}, 2, "--mode needs a ringline backend", false},
		{[]string{"--backend", "xdp"}, 2, "--backend", false},
		{[]string{"--bogus"}, 2, "bogus", false},
		{[]string{"--pin", "--backend", "net"}, 2, "--pin", false},
		{[]string{"--addr", held.Addr().String()}, 1, "address already in use", false},
		{[]string{"--addr", "127.0.0.1:0", "--backend", "uring"}, 1, "backend io_uring cannot run here", true},
		{[]string{"--addr", held.Addr().String(), "--backend", "net"}, 1, "address already in use", false},
		{[]string{"--addr", "localhost:0"}, 1, "literal IP", false},
	} {
		if tc.noUring && uringOK() {
			continue
		}
		code, _, stderr := runCmd(t, 30*time.Second, append([]string{"echo"}, tc.args...)...)
		if code != tc.code || !strings.Contains(stderr, tc.msg) {
			t.Errorf("echo %v: exit %d, stderr %q; want exit %d mentioning %q", tc.args, code, stderr, tc.code, tc.msg)
		}
	}
}
