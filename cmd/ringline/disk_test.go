//go:build linux

package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// TestDiskBadFlags checks that bad flags exit 2 with a message naming the
// flag, before any file is made.
func TestDiskBadFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--qd", "0"}, "--qd 0"},
		{[]string{"--qd", "65"}, "--qd 65"},
		{[]string{"--size", "1000"}, "--size 1000"},
		{[]string{"--op", "trim"}, `--op "trim"`},
		{[]string{"--engines", "uring,spdk"}, `unknown engine "spdk"`},
		{[]string{"--duration", "0s"}, "--duration 0s"},
		{[]string{"--runs", "0"}, "--runs 0"},
		{[]string{"extra"}, `unexpected argument "extra"`},
	} {
		var stdout, stderr bytes.Buffer
		if code := runDisk(tc.args, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), tc.want) || stdout.Len() != 0 {
			t.Errorf("disk %v: exit %d, stderr %q; want exit 2 and a message with %q", tc.args, code, stderr.String(), tc.want)
		}
	}
}

// TestDiskEngines runs each in-process engine briefly, reads and writes,
// and checks the JSON objects carry the keys the issue names, with
// requests done and no error.
func TestDiskEngines(t *testing.T) {
	file := filepath.Join(t.TempDir(), "disk.dat")
	if fd, err := unix.Open(file, unix.O_RDWR|unix.O_CREAT|unix.O_DIRECT, 0o600); err == syscall.EINVAL {
		t.Skipf("the filesystem of %s refuses O_DIRECT", file)
	} else if err != nil {
		t.Fatal(err)
	} else {
		unix.Close(fd)
	}
	engines := "epoll,osfile"
	if uringOK() {
		engines = "uring,uring-file," + engines
	}
	for _, op := range []string{"read", "write"} {
		var stdout, stderr bytes.Buffer
		args := []string{"--file", file, "--size", "1048576", "--qd", "4", "--duration", "200ms", "--op", op, "--engines", engines, "--json"}
		if code := runDisk(args, &stdout, &stderr); code != 0 {
			t.Fatalf("disk %v: exit %d: %s", args, code, stderr.String())
		}
		lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
		if len(lines) != strings.Count(engines, ",")+1 {
			t.Fatalf("%d result lines for engines %s:\n%s", len(lines), engines, stdout.String())
		}
		for _, line := range lines {
			var r map[string]any
			if err := json.Unmarshal([]byte(line), &r); err != nil {
				t.Fatalf("%q: %v", line, err)
			}
			for _, key := range []string{"engine", "op", "qd", "iops", "p50_us", "p99_us", "cpu_s", "iops_per_cpu_s"} {
				if _, ok := r[key]; !ok {
					t.Errorf("%s: no key %q", line, key)
				}
			}
			if r["op"] != op || r["ops"].(float64) == 0 || r["errors"].(float64) != 0 || r["iops"].(float64) <= 0 {
				t.Errorf("%s: want op %s, requests done, no error", line, op)
			}
		}
	}
	if st, err := os.Stat(file); err != nil || st.Size() != 1<<20 {
		t.Fatalf("the file: %v, %v; want 1 MiB made", st, err)
	}
}
