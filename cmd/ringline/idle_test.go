//go:build linux

package main

import (
	"bytes"
	"encoding/json"
	"maps"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestIdleBadFlags checks that bad flags exit 2 with a message naming the
// flag, before any connection is attempted.
func TestIdleBadFlags(t *testing.T) {
	pid := strconv.Itoa(os.Getpid()) // a process that exists
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--server-pid", pid, "--conns", "0"}, "--conns 0"},
		{[]string{"--server-pid", pid, "--conns", "-5"}, "--conns -5"},
		{[]string{"--conns", "10"}, "--server-pid: required"},
		{[]string{"--server-pid", "-3"}, "--server-pid -3"},
		{[]string{"--server-pid", pid, "--hold", "soon"}, "-hold"},
		{[]string{"--server-pid", pid, "--hold", "-1s"}, "--hold -1s"},
		{[]string{"--server-pid", pid, "extra"}, `unexpected argument "extra"`},
		{[]string{"--server-pid", pid, "--frobnicate"}, "-frobnicate"},
		{[]string{"--server-pid", pid, "--conns", "2147483647"}, "RLIMIT_NOFILE hard limit"},
	} {
		var stdout, stderr bytes.Buffer
		code := runIdle(tc.args, &stdout, &stderr)
		if code != 2 || !strings.Contains(stderr.String(), tc.want) || stdout.Len() != 0 {
			t.Errorf("idle %v: exit %d, stderr %q, stdout %q; want exit 2 and a message with %q", tc.args, code, stderr.String(), stdout.String(), tc.want)
		}
	}
}

// TestIdleEcho holds 200 connections to a "ringline echo" process on epoll
// and checks the JSON result: every key, every connection held and served,
// and memory figures read. RSS may shrink over the run, so only its being
// read is checked, not its growth.
func TestIdleEcho(t *testing.T) {
	srv, addr, _ := startEcho(t, "--addr", "127.0.0.1:0", "--backend", "epoll", "--workers", "1")
	pid := strconv.Itoa(srv.Process.Pid)
	code, stdout, stderr := runCmd(t, 60*time.Second, "idle", "--addr", addr, "--conns", "200", "--hold", "100ms", "--server-pid", pid, "--json")
	if code != 0 {
		t.Fatalf("idle: exit %d; stdout %q; stderr %q", code, stdout, stderr)
	}
	var keys map[string]any
	if err := json.Unmarshal([]byte(stdout), &keys); err != nil {
		t.Fatalf("stdout is not a JSON object (%v): %q", err, stdout)
	}
	want := []string{"addr", "baseline_rss_kb", "conns", "errors", "hold_s", "hwm_kb", "per_conn_bytes", "rss_kb"}
	if got := slices.Sorted(maps.Keys(keys)); !slices.Equal(got, want) {
		t.Errorf("keys %v, want %v", got, want)
	}
	var r idleResult
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatal(err)
	}
	if r.Addr != addr || r.Conns != 200 || r.Errors != 0 || r.HoldS != 0.1 || r.RSSkB <= 0 || r.BaselineRSSkB <= 0 || r.HWMkB <= 0 {
		t.Errorf("result %+v: want addr %s, 200 conns, no errors, hold 0.1 s and memory read", r, addr)
	}
	srv.Process.Signal(syscall.SIGINT)
	if err := srv.Wait(); err != nil {
		t.Errorf("echo exit after SIGINT: %v", err)
	}
}

// TestIdleText checks the one-line text result against Go's net server.
func TestIdleText(t *testing.T) {
	srv, addr, _ := startEcho(t, "--addr", "127.0.0.1:0", "--backend", "net")
	code, stdout, stderr := runCmd(t, 60*time.Second, "idle", "--addr", addr, "--conns", "20", "--hold", "0s", "--server-pid", strconv.Itoa(srv.Process.Pid))
	if code != 0 || !strings.HasPrefix(stdout, "20 idle conns: server RSS ") || !strings.Contains(stdout, "per conn over the baseline of ") {
		t.Errorf("idle: exit %d, stdout %q, stderr %q; want exit 0 and \"20 idle conns: server RSS ...\"", code, stdout, stderr)
	}
}

// TestIdleNoServer checks that a run against an address where nothing
// listens exits 1, prints no result and says the connection was refused.
func TestIdleNoServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	var stdout, stderr bytes.Buffer
	code := runIdle([]string{"--addr", addr, "--conns", "3", "--hold", "0s", "--server-pid", strconv.Itoa(os.Getpid())}, &stdout, &stderr)
	if code != 1 || stdout.Len() != 0 || !strings.Contains(stderr.String(), "connection refused") {
		t.Errorf("exit %d, stdout %q, stderr %q; want exit 1, no result, and \"connection refused\"", code, stdout.String(), stderr.String())
	}
}

// TestFmtBytes checks the units of the text result.
func TestFmtBytes(t *testing.T) {
	for n, want := range map[int64]string{
		0: "0 B", 1023: "1023 B", 2867: "2.8 KiB", -2048: "-2.0 KiB", 28 << 20: "28.0 MiB",
	} {
		if got := fmtBytes(n); got != want {
			t.Errorf("fmtBytes(%d) = %q, want %q", n, got, want)
		}
	}
}
