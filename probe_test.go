//go:build linux

package ringline

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// probeWanted are the features the report must list, each supported on
// this machine (Linux 6.18): the setup flags, the opcodes and the
// capabilities the runtime and the binding use.
var probeWanted = []string{
	"IORING_SETUP_SQE128", "IORING_SETUP_CQE32", "IORING_SETUP_CQSIZE",
	"IORING_SETUP_SINGLE_ISSUER", "IORING_SETUP_COOP_TASKRUN",
	"IORING_SETUP_DEFER_TASKRUN", "IORING_SETUP_SQPOLL",
	"IORING_OP_ACCEPT", "IORING_OP_RECV", "IORING_OP_SENDMSG", "IORING_OP_POLL_ADD",
	"IORING_OP_CONNECT", "IORING_OP_SHUTDOWN", "IORING_OP_CLOSE", "IORING_OP_TIMEOUT",
	"IORING_OP_ASYNC_CANCEL", "IORING_OP_READ", "IORING_OP_NOP", "IORING_OP_SEND",
	"IORING_OP_RECVMSG", "IORING_OP_SENDMSG_ZC", "IORING_OP_WRITE", "IORING_OP_FSYNC",
	"IORING_OP_OPENAT", "IORING_OP_STATX", "IORING_OP_RENAMEAT", "IORING_OP_UNLINKAT",
	"IORING_OP_MKDIRAT", "IORING_OP_URING_CMD",
	"provided buffer ring", "multishot accept", "multishot recv", "NOP result injection",
}

// TestProbe checks that Probe leaves no descriptor open, and the report on
// this machine: the kernel release uname
// gives, io_uring usable, every listed feature present and supported with a
// detail, liburing named, RLIMIT_NOFILE > 0, and the automatic choice
// io_uring. Built without cgo, it checks the honest answer instead: no
// binding, nothing probed, epoll chosen and said not to exist yet; where
// io_uring is blocked, that the report says so with the setup error.
func TestProbe(t *testing.T) {
	before := openFds(t)
	rep := Probe()
	for fd, target := range openFds(t) {
		if _, ok := before[fd]; !ok {
			t.Errorf("Probe left descriptor %s open: %s", fd, target)
		}
	}
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		t.Fatal(err)
	}
	if want := unix.ByteSliceToString(u.Release[:]); rep.Kernel != want {
		t.Errorf("Kernel = %q, want %q", rep.Kernel, want)
	}
	if rep.NOFILE.Soft == 0 || rep.NOFILE.Hard < rep.NOFILE.Soft || rep.NOFILE.Error != "" {
		t.Errorf("NOFILE = %+v, want 0 < soft <= hard", rep.NOFILE)
	}
	if rep.MEMLOCK.Hard < rep.MEMLOCK.Soft || rep.MEMLOCK.Error != "" {
		t.Errorf("MEMLOCK = %+v, want soft <= hard", rep.MEMLOCK)
	}
	if rep.Liburing == "" {
		t.Error("Liburing is empty")
	}
	built := builtBackends() // epoll only without cgo
	if built[0].cfg.Backend != BackendIOUring {
		if rep.IOUring || rep.IOUringError != "built without cgo: no io_uring binding in this binary" || len(rep.Features) != 0 {
			t.Errorf("without cgo: IOUring %v, IOUringError %q, %d features; want false, the not-built-in answer, none",
				rep.IOUring, rep.IOUringError, len(rep.Features))
		}
		if rep.AutoBackend != "epoll" || !strings.Contains(rep.AutoReason, "without cgo") {
			t.Errorf("without cgo: auto %q (%s), want epoll, saying the binary has no io_uring", rep.AutoBackend, rep.AutoReason)
		}
		return
	}
	if err := backendUsable(built[0]); err != nil {
		if rep.IOUring || rep.IOUringError != err.Error() || rep.AutoBackend != "epoll" {
			t.Errorf("io_uring unusable here (%v), but the report says IOUring %v (%q), auto %q",
				err, rep.IOUring, rep.IOUringError, rep.AutoBackend)
		}
		t.Skipf("io_uring unusable here, so features are not checked: %v", err)
	}
	if !rep.IOUring || rep.IOUringError != "" {
		t.Fatalf("IOUring = %v (%s), want true", rep.IOUring, rep.IOUringError)
	}
	got := make(map[string]ProbeFeature)
	for _, f := range rep.Features {
		if _, dup := got[f.Name]; dup {
			t.Errorf("feature %q listed twice", f.Name)
		}
		got[f.Name] = f
	}
	for _, name := range probeWanted {
		f, ok := got[name]
		switch {
		case !ok:
			t.Errorf("feature %q missing from the report", name)
		case !f.Supported:
			t.Errorf("feature %q unsupported: %s", name, f.Detail)
		case f.Detail == "":
			t.Errorf("feature %q has no detail", name)
		}
	}
	if len(rep.Features) != len(probeWanted) {
		t.Errorf("%d features reported, want the %d listed here", len(rep.Features), len(probeWanted))
	}
	if rep.AutoBackend != "io_uring" || rep.AutoReason == "" {
		t.Errorf("auto backend %q (%s), want io_uring with a reason", rep.AutoBackend, rep.AutoReason)
	}
}

// TestProbeJSONNames checks the report's JSON uses the stable
// lower_snake_case names that `ringline probe --json` prints.
func TestProbeJSONNames(t *testing.T) {
	b, err := json.Marshal(ProbeReport{Features: []ProbeFeature{{Name: "x"}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"kernel"`, `"io_uring"`, `"io_uring_error"`, `"features"`, `"name"`, `"supported"`,
		`"detail"`, `"liburing"`, `"nofile"`, `"memlock"`, `"soft"`, `"hard"`, `"auto_backend"`, `"auto_reason"`} {
		if !strings.Contains(string(b), key+":") {
			t.Errorf("JSON %s lacks key %s", b, key)
		}
	}
}

// openFds maps each open descriptor of the process to what it refers to.
func openFds(t *testing.T) map[string]string {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	fds := make(map[string]string)
	for _, e := range ents {
		target, err := os.Readlink("/proc/self/fd/" + e.Name())
		if err == nil { // the directory's own descriptor is gone by now
			fds[e.Name()] = target
		}
	}
	return fds
}
