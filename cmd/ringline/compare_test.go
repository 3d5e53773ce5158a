//go:build linux

package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// compareOutput is the JSON compare prints.
type compareOutput struct {
	Setup   string          `json:"setup"`
	Rows    []compareRow    `json:"rows"`
	Skipped []skippedServer `json:"skipped"`
}

// TestCompareShort runs compare with short runs and checks that every
// server this build has produced a row with checked echoes and a measured
// server CPU time, that net's ratios are 1, and that a server that cannot
// run here is listed with its reason.
func TestCompareShort(t *testing.T) {
	code, stdout, stderr := runCmd(t, 120*time.Second, "compare", "--json", "--duration", "400ms",
		"--warmup", "100ms", "--runs", "2", "--conns", "8", "--pipeline", "2", "--size", "512")
	if code != 0 {
		t.Fatalf("compare: exit %d\nstderr: %s", code, stderr)
	}
	var out compareOutput
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		t.Fatalf("compare --json: %v\n%s", err, stdout)
	}
	rows := map[string]compareRow{}
	for _, r := range out.Rows {
		rows[r.Server] = r
		if len(r.Runs) != 2 || r.Median.Ops == 0 || r.Errors != 0 || r.Median.ServerCPUSeconds <= 0 {
			t.Errorf("row %s: %d runs, median %d ops, %d errors, %.3f server CPU s", r.Server, len(r.Runs), r.Median.Ops, r.Errors, r.Median.ServerCPUSeconds)
		}
	}
	want := []string{"epoll", "net"}
	if uringOK() {
		want = append(want, "uring")
	}
	for _, s := range want {
		if _, ok := rows[s]; !ok {
			t.Errorf("no %s row in %s", s, stdout)
		}
	}
	if n := rows["net"]; n.OpsRatio != 1 || n.OpsPerCPURatio != 1 {
		t.Errorf("net's ratios to itself: %v, %v", n.OpsRatio, n.OpsPerCPURatio)
	}
	if len(rows)+len(out.Skipped) != 3 {
		t.Errorf("%d rows and %d skipped, want the three servers accounted for", len(rows), len(out.Skipped))
	}
	for _, s := range out.Skipped {
		if s.Reason == "" {
			t.Errorf("%s skipped without a reason", s.Server)
		}
	}
	if !strings.Contains(stderr, "compare: [") {
		t.Errorf("no progress line on stderr: %q", stderr)
	}
}

// TestCompareMarkdown checks the Markdown table's header and rows.
func TestCompareMarkdown(t *testing.T) {
	code, stdout, stderr := runCmd(t, 120*time.Second, "compare", "--markdown", "--duration", "300ms",
		"--warmup", "100ms", "--runs", "1", "--conns", "4", "--servers", "epoll,net")
	if code != 0 {
		t.Fatalf("compare: exit %d\nstderr: %s", code, stderr)
	}
	for _, want := range []string{"| server | ops/s |", "| epoll |", "| net |", "1.00x"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("markdown output lacks %q:\n%s", want, stdout)
		}
	}
}

// TestCompareBadFlags checks that bad flags exit 2 naming the flag.
func TestCompareBadFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--runs", "0"}, "--runs"},
		{[]string{"--servers", "nginx"}, "nginx"},
		{[]string{"--client", "curl"}, "--client"},
		{[]string{"--json", "--markdown"}, "pick one"},
		{[]string{"--duration", "0s"}, "--duration"},
	} {
		code, _, stderr := runInProcess(append([]string{"compare"}, tc.args...)...)
		if code != 2 || !strings.Contains(stderr, tc.msg) {
			t.Errorf("compare %v: exit %d, stderr %q; want 2 mentioning %q", tc.args, code, stderr, tc.msg)
		}
	}
}

// TestCompareBadPeerServer checks that a --c-server or --gnet-server path
// that cannot be started exits 1 naming the server, without gnet or the C
// server built.
func TestCompareBadPeerServer(t *testing.T) {
	for _, tc := range []struct{ flag, name string }{{"--c-server", "c"}, {"--gnet-server", "gnet"}} {
		code, _, stderr := runCmd(t, 60*time.Second, "compare", "--servers", "net", "--runs", "1",
			"--duration", "100ms", "--warmup", "0s", tc.flag, t.TempDir()+"/no-such-server")
		if want := "starting the " + tc.name + " server"; code != 1 || !strings.Contains(stderr, want) {
			t.Errorf("compare %s with a missing binary: exit %d, stderr %q; want 1 mentioning %q", tc.flag, code, stderr, want)
		}
	}
}
