//go:build linux

package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ringline-go/ringline"
	"github.com/ringline-go/ringline/internal/leakcheck"
)

// bin is the ringline binary built once for the tests that need a process
// (echo's signals, compare's servers and clients).
var bin string

// TestMain builds the binary, runs the tests, and fails the run if the
// tests that serve in-process left a descriptor, goroutine or ring behind.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ringline-cmd-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = dir + "/ringline"
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := leakcheck.Run(m)
	os.RemoveAll(dir)
	os.Exit(code)
}

// uringOK says whether this build has io_uring and the kernel allows it
// here, probed once.
var uringOK = sync.OnceValue(func() bool { return ringline.Probe().IOUring })

// requireIOUring skips a test that needs the io_uring backend.
func requireIOUring(t *testing.T) {
	t.Helper()
	if !uringOK() {
		t.Skip("io_uring is not available in this build or on this kernel (see ringline probe)")
	}
}

// startEcho starts "ringline echo" with args and returns the process and
// the address from its first line; the process is killed at the end of the
// test if still running.
func startEcho(t *testing.T, args ...string) (*exec.Cmd, string, string) {
	t.Helper()
	return startServer(t, "echo", 5, args...)
}

// startHTTP starts "ringline http" with args, as startEcho does; its
// first line is "listening on ADDR backend=NAME".
func startHTTP(t *testing.T, args ...string) (*exec.Cmd, string, string) {
	t.Helper()
	return startServer(t, "http", 4, args...)
}

// startServer starts a serving subcommand whose first line has fields
// words: "listening on ADDR ...".
func startServer(t *testing.T, sub string, fields int, args ...string) (*exec.Cmd, string, string) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{sub}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		cmd.Wait()
		t.Fatalf("%s %v: no first line (%v); stderr: %s", sub, args, err, stderr.String())
	}
	words := strings.Fields(line)
	if len(words) != fields || words[0] != "listening" || words[1] != "on" {
		t.Fatalf("first line %q, want \"listening on ADDR backend=NAME ...\" (%d fields)", line, fields)
	}
	return cmd, words[2], line
}

// runCmd runs the binary to completion and returns its exit code, stdout
// and stderr.
func runCmd(t *testing.T, limit time.Duration, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(limit):
		cmd.Process.Kill()
		<-done
		t.Fatalf("ringline %v: still running after %v", args, limit)
	}
	return cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()
}

// runInProcess calls run with args and returns the exit code and outputs.
func runInProcess(args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := run(args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// TestUsage checks the top-level usage: no command and an unknown one exit
// 2 and list the commands; help exits 0.
func TestUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		out  string
	}{
		{nil, 2, "commands:"},
		{[]string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{[]string{"help"}, 0, "commands:"},
	} {
		code, stdout, stderr := runInProcess(tc.args...)
		if code != tc.code || !strings.Contains(stdout+stderr, tc.out) {
			t.Errorf("ringline %v: exit %d, output %q; want exit %d mentioning %q", tc.args, code, stdout+stderr, tc.code, tc.out)
		}
	}
}
