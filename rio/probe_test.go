//go:build linux

package rio

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/ringline-go/ringline/internal/leakcheck"
)

// TestProbe checks the runtime's report on this machine: it leaves no
// descriptor open; both limits read, with soft <= hard and NOFILE > 0; and
// the automatic choice agrees with the runtime's own check. Built without
// cgo, auto is epoll and says the binary has no io_uring; where io_uring
// cannot run, auto is epoll and the reason carries the check's error; where
// it can, auto is io_uring.
func TestProbe(t *testing.T) {
	before := leakcheck.Fds()
	rep := Probe()
	if after := leakcheck.Fds(); after != before {
		t.Errorf("Probe left %d descriptors open, %d before", after, before)
	}
	if rep.NOFILE.Soft == 0 || rep.NOFILE.Hard < rep.NOFILE.Soft || rep.NOFILE.Error != "" {
		t.Errorf("NOFILE = %+v, want 0 < soft <= hard", rep.NOFILE)
	}
	if rep.MEMLOCK.Hard < rep.MEMLOCK.Soft || rep.MEMLOCK.Error != "" {
		t.Errorf("MEMLOCK = %+v, want soft <= hard", rep.MEMLOCK)
	}
	built := builtBackends()
	uringErr := probeUsable()
	switch {
	case built[0].cfg.Backend != BackendIOUring:
		if rep.AutoBackend != "epoll" || !strings.Contains(rep.AutoReason, "without cgo") {
			t.Errorf("without cgo: auto %q (%s), want epoll, saying the binary has no io_uring", rep.AutoBackend, rep.AutoReason)
		}
	case uringErr != nil:
		if rep.AutoBackend != "epoll" || !strings.Contains(rep.AutoReason, uringErr.Error()) {
			t.Errorf("io_uring unusable here (%v), but auto is %q (%s)", uringErr, rep.AutoBackend, rep.AutoReason)
		}
	default:
		if rep.AutoBackend != "io_uring" || rep.AutoReason == "" {
			t.Errorf("auto backend %q (%s), want io_uring with a reason", rep.AutoBackend, rep.AutoReason)
		}
	}
}

// TestProbeJSONNames checks the report's JSON uses the stable
// lower_snake_case names that `ringline probe --json` prints.
func TestProbeJSONNames(t *testing.T) {
	b, err := json.Marshal(ProbeReport{})
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"nofile"`, `"memlock"`, `"soft"`, `"hard"`, `"auto_backend"`, `"auto_reason"`} {
		if !strings.Contains(string(b), key+":") {
			t.Errorf("JSON %s lacks key %s", b, key)
		}
	}
}
