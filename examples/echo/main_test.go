//go:build linux && cgo

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
// starts the program, echoes a line through it, then interrupts it and
// expects a clean exit.
func TestQuickStart(t *testing.T) {
	probe, err := net.Listen("tcp", "127.0.0.1:7878")
	if err != nil {
		t.Skipf("port 7878 is busy here: %v", err)
	}
	probe.Close()
	bin := t.TempDir() + "/echo"
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin)
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
	if !strings.HasPrefix(line, "listening on 127.0.0.1:7878") {
		t.Errorf("first line %q", line)
	}
	c, err := net.Dial("tcp", "127.0.0.1:7878")
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
