//go:build linux

package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/ringline-go/ringline"
)

// probeRun runs "ringline probe args" in-process.
func probeRun(args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := run(append([]string{"probe"}, args...), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func unameRelease(t *testing.T) string {
	t.Helper()
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		t.Fatal(err)
	}
	return unix.ByteSliceToString(u.Release[:])
}

// TestProbeJSON checks that probe --json prints one JSON report with the
// stable snake_case keys, whose fields agree with this machine and with each
// other: the uname release, RLIMIT_NOFILE > 0, io_uring usable or the reason
// why not, features listed once each when io_uring is usable, and an
// automatic backend with its reason.
func TestProbeJSON(t *testing.T) {
	code, out, errOut := probeRun("--json")
	if code != 0 {
		t.Fatalf("exit %d, stderr: %s", code, errOut)
	}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal([]byte(out), &keys); err != nil {
		t.Fatalf("output is not a JSON object: %v\n%s", err, out)
	}
	for _, k := range []string{"kernel", "io_uring", "io_uring_error", "features", "liburing", "nofile", "memlock", "auto_backend", "auto_reason"} {
		if _, ok := keys[k]; !ok {
			t.Errorf("JSON lacks key %q", k)
		}
	}
	var rep probeReport
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rep); err != nil {
		t.Fatalf("decoding the report: %v", err)
	}
	if want := unameRelease(t); rep.Kernel != want {
		t.Errorf("kernel %q, want %q", rep.Kernel, want)
	}
	if rep.NOFILE.Soft == 0 || rep.NOFILE.Hard < rep.NOFILE.Soft {
		t.Errorf("nofile %+v, want 0 < soft <= hard", rep.NOFILE)
	}
	if rep.IOUring == (rep.IOUringError != "") {
		t.Errorf("io_uring %v with io_uring_error %q: want an error exactly when io_uring is false", rep.IOUring, rep.IOUringError)
	}
	if rep.IOUring && len(rep.Features) == 0 {
		t.Error("io_uring is usable but no feature was reported")
	}
	seen := map[string]bool{}
	for _, f := range rep.Features {
		if f.Name == "" || f.Detail == "" || seen[f.Name] {
			t.Errorf("feature %+v: want a name, listed once, and a detail", f)
		}
		seen[f.Name] = true
	}
	if (rep.AutoBackend != "io_uring" && rep.AutoBackend != "epoll") || rep.AutoReason == "" {
		t.Errorf("auto backend %q (%q), want io_uring or epoll with a reason", rep.AutoBackend, rep.AutoReason)
	}
	if rep.AutoBackend == "io_uring" && !rep.IOUring {
		t.Error("auto backend io_uring on a machine where io_uring cannot be set up")
	}
}

// TestProbeText checks the text report: it names the kernel release, says
// whether io_uring works, gives the limits and the automatic backend, and
// has a row for each feature.
func TestProbeText(t *testing.T) {
	code, out, errOut := probeRun()
	if code != 0 {
		t.Fatalf("exit %d, stderr: %s", code, errOut)
	}
	want := []string{unameRelease(t), "io_uring", "liburing", "RLIMIT_NOFILE", "RLIMIT_MEMLOCK", "auto backend"}
	for _, f := range ringline.Probe().Features {
		want = append(want, "  "+f.Name+" ")
	}
	for _, s := range want {
		if !strings.Contains(out, s) {
			t.Errorf("text report lacks %q:\n%s", s, out)
		}
	}
}

// TestProbeUsage checks the exit codes and messages of probe's usage: an
// unknown flag and a stray argument exit 2 with the problem and a hint, -h
// exits 0 listing --json.
func TestProbeUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		want []string
	}{
		{[]string{"--bogus"}, 2, []string{"flag provided but not defined: -bogus", probeHint}},
		{[]string{"extra"}, 2, []string{`unexpected argument "extra"`, probeHint}},
		{[]string{"-h"}, 0, []string{"-json"}},
	} {
		code, out, errOut := probeRun(tc.args...)
		if code != tc.code || out != "" {
			t.Errorf("probe %v: exit %d, stdout %q; want exit %d and no output", tc.args, code, out, tc.code)
		}
		for _, s := range tc.want {
			if !strings.Contains(errOut, s) {
				t.Errorf("probe %v: stderr lacks %q:\n%s", tc.args, s, errOut)
			}
		}
	}
}
