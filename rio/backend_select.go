//go:build linux

package rio

import (
	"fmt"

	"github.com/ringline-go/ringline/internal/backend"
	"github.com/ringline-go/ringline/internal/epoll"
)

// newBackendFunc makes one worker's engine, on the worker's thread.
type newBackendFunc func(backend.Config) (backend.Backend, error)

// selectBackend picks the engine for cfg (defaults applied) and says why:
// io_uring when asked for or, with auto, when this binary has it and a ring
// with the runtime's setup flags can be made here; otherwise epoll. Asking
// for io_uring where it cannot run is an error that says why.
func selectBackend(cfg Config) (string, newBackendFunc, string, error) {
	if cfg.Backend == BackendEpoll {
		if cfg.SQPoll {
			return "", nil, "", fmt.Errorf("%w: Config.SQPoll needs io_uring; the epoll backend has no submission queue to poll", ErrUnsupported)
		}
		return "epoll", epoll.New, "Config.Backend asks for epoll", nil
	}
	newUring, err := uringSupport(cfg)
	if testHookUringSupport != nil {
		if herr := testHookUringSupport(); herr != nil {
			err = herr
		}
	}
	switch {
	case err == nil && cfg.Backend == BackendIOUring:
		return "io_uring", newUring, "Config.Backend asks for io_uring", nil
	case err == nil:
		return "io_uring", newUring, "io_uring is built in and a ring can be set up here", nil
	case cfg.Backend == BackendIOUring:
		return "", nil, "", fmt.Errorf("rio: backend io_uring cannot run here: %w", err)
	}
	name, newEpoll, reason := epollFallback(cfg, err)
	return name, newEpoll, reason, nil
}

// epollFallback is auto's second choice, with why io_uring could not run.
func epollFallback(cfg Config, why error) (string, newBackendFunc, string) {
	reason := fmt.Sprintf("io_uring cannot run here, so epoll: %v", why)
	if cfg.SQPoll {
		reason += "; Config.SQPoll has no effect on epoll"
	}
	return "epoll", epoll.New, reason
}

// testHookUringSupport, when set by a test, stands for the probe's answer:
// a way to make io_uring fail and see auto fall back.
var testHookUringSupport func() error
