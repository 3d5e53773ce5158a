//go:build linux

package main

import (
	"bufio"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestQuickStart runs the README's quick start as written: it builds and
// starts the program on a free port, echoes a line through it, then
// interrupts it and expects a clean exit.
func TestQuickStart(t *testing.T) {
	bin := t.TempDir() + "/echo"
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "--addr", "127.0.0.1:0")
	cmd.Stderr = os.Stderr
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("the quick start did not start: %v", err)
	}
	fields := strings.Fields(line)
	if len(fields) < 3 || fields[0] != "listening" || fields[1] != "on" ||
		!strings.HasPrefix(fields[2], "127.0.0.1:") || strings.HasSuffix(fields[2], ":0") {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("first line %q, want \"listening on ADDR backend ...\" with the port chosen", line)
	}
	c, err := net.Dial("tcp", fields[2])
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	msg := "hello, ringline\n"
	io.WriteString(c, msg)
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil || string(got) != msg {
		t.Errorf("echo: %q, %v", got, err)
	}
	c.Close()
	cmd.Process.Signal(syscall.SIGINT)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("exit after SIGINT: %v", err)
		}
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatal("no exit 20 s after SIGINT")
	}
}

// TestReadmeQuickStart guards the README's promise that its quick start is
// this program, whole: the first Go block under "## Quick start" must be
// main.go byte for byte, so the block builds as written.
func TestReadmeQuickStart(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	main, err := os.ReadFile("main.go")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(readme), "\n## Quick start\n")
	if ok {
		_, after, ok = strings.Cut(after, "```go\n")
	}
	block, _, closed := strings.Cut(after, "```\n")
	if !ok || !closed {
		t.Fatal("README.md has no ```go block under ## Quick start")
	}
	if block != string(main) {
		t.Errorf("the README's quick start differs from main.go; copy main.go into it:\n%s", block)
	}
}
