//go:build linux

package ringline

import (
	"context"
	"testing"
	"time"
)

// backendCase is one backend the behavioural suite runs over.
type backendCase struct {
	name string
	cfg  Config // the base configuration selecting it
}

// forEachBackend runs f once per backend built into this binary, as a
// subtest named after it; it skips when there is none.
func forEachBackend(t *testing.T, f func(t *testing.T, cfg Config)) {
	t.Helper()
	cases := builtBackends()
	if len(cases) == 0 {
		t.Skip("no backend in this build (the io_uring backend needs cgo)")
	}
	for _, bc := range cases {
		t.Run(bc.name, func(t *testing.T) {
			if err := backendUsable(bc); err != nil {
				t.Skipf("%s unusable here: %v", bc.name, err)
			}
			f(t, bc.cfg)
		})
	}
}

// echoHandler sends back what it receives, as much as the send pool takes;
// the rest is offered again when slots are free.
type echoHandler struct{ NopHandler }

func (echoHandler) OnData(c Conn, data []byte) int {
	n, _ := c.SendSome(data)
	return n
}

// serve starts a server for the test and closes it at the end, failing the
// test if the close leaves anything behind.
func serve(t *testing.T, network, addr string, cfg Config, h Handler) *Server {
	t.Helper()
	if cfg.Workers == 0 {
		cfg.Workers = 2
	}
	srv, err := Listen(context.Background(), network, addr, cfg, h)
	if err != nil {
		t.Fatalf("Listen(%s, %s): %v", network, addr, err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return srv
}

// within fails the test if ch is not closed within d (a hang guard, not a
// timing assertion: d is far beyond what the work needs).
func within(t *testing.T, what string, ch <-chan struct{}, d time.Duration) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(d):
		t.Fatalf("%s: still not done after %v", what, d)
	}
}
