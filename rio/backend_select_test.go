//go:build linux

package rio

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ringline-go/ringline/internal/backend"
)

// TestAutoFallsBackToEpoll makes io_uring's set-up fail (as a seccomp
// profile would, with EPERM) and checks that auto chooses epoll, says so in
// Stats and BackendReason, logs the reason once, and serves; and that
// asking for io_uring explicitly then fails with the reason.
func TestAutoFallsBackToEpoll(t *testing.T) {
	blocked := fmt.Errorf("io_uring_setup: %w: blocked for this test", syscall.EPERM)
	testHookUringSupport = func() error { return blocked }
	defer func() { testHookUringSupport = nil }()

	var log syncLog
	srv := serve(t, "tcp", "127.0.0.1:0", Config{Workers: 1, Logger: log.logger()}, echoHandler{})
	if srv.Backend() != "epoll" || srv.Stats().Backend != "epoll" {
		t.Errorf("Backend() %q, Stats().Backend %q, want epoll", srv.Backend(), srv.Stats().Backend)
	}
	if !strings.Contains(srv.BackendReason(), "blocked for this test") {
		t.Errorf("BackendReason() = %q, want the setup error", srv.BackendReason())
	}
	if got := strings.Count(log.String(), "backend auto chose epoll"); got != 1 || !strings.Contains(log.String(), "blocked for this test") {
		t.Errorf("the log says %d times that auto chose epoll, want once with the reason:\n%s", got, log.String())
	}
	c, err := net.Dial("tcp", srv.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	if err := echoClient(c, [][]byte{[]byte("served by the fallback")}); err != nil {
		t.Error(err)
	}

	_, err = Listen(context.Background(), "tcp", "127.0.0.1:0", Config{Workers: 1, Backend: BackendIOUring}, echoHandler{})
	if !errors.Is(err, syscall.EPERM) || !strings.Contains(err.Error(), "backend io_uring cannot run here") {
		t.Errorf("Listen with Backend io_uring where it cannot run: %v, want an error saying why (EPERM)", err)
	}
}

// TestAutoFallsBackWhenAWorkerRingFails guards the case where auto's probe
// ring works but a worker's full-size ring does not (RLIMIT_MEMLOCK, say):
// the server must fall back to epoll, not fail.
func TestAutoFallsBackWhenAWorkerRingFails(t *testing.T) {
	if err := probeUsable(); err != nil {
		t.Skipf("io_uring unusable here, so auto never tries it: %v", err)
	}
	testHookBackend = func(b backend.Backend) (backend.Backend, error) {
		if b.Name() == "io_uring" {
			return nil, fmt.Errorf("io_uring_setup: %w: refused for this test", syscall.ENOMEM)
		}
		return b, nil
	}
	defer func() { testHookBackend = nil }()
	srv := serve(t, "tcp", "127.0.0.1:0", Config{Workers: 2}, echoHandler{})
	if srv.Backend() != "epoll" || !strings.Contains(srv.BackendReason(), "refused for this test") {
		t.Errorf("Backend() %q (%s), want epoll with the worker's error", srv.Backend(), srv.BackendReason())
	}
	c, err := net.Dial("tcp", srv.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	if err := echoClient(c, [][]byte{[]byte("served after the fallback")}); err != nil {
		t.Error(err)
	}
}

// TestBackendConfigErrors checks the refusals of Config.Backend: an unknown
// name, and SQPoll with epoll (unsupported there).
func TestBackendConfigErrors(t *testing.T) {
	if err := (Config{Backend: "kqueue"}).Validate(); err == nil || !strings.Contains(err.Error(), "Config.Backend") {
		t.Errorf("Validate with Backend kqueue: %v", err)
	}
	_, err := Listen(context.Background(), "tcp", "127.0.0.1:0", Config{Workers: 1, Backend: BackendEpoll, SQPoll: true}, echoHandler{})
	if !errors.Is(err, ErrUnsupported) || !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("Listen with epoll and SQPoll: %v, want ErrUnsupported", err)
	}
}
