//go:build linux

package ringline

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// probeWanted are the features the report must list: the setup flags, the
// opcodes and the capabilities the binding's helpers use. Linux 6.1, the
// oldest kernel the binding supports, has every one of them but those in
// probeOptional.
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

// probeOptional are the features a kernel the binding supports may lack:
// NOP result injection came in Linux 6.6, and SQPOLL may be refused to an
// unprivileged process or by a container. Every other listed feature must
// be reported supported wherever a ring can be set up.
var probeOptional = map[string]bool{
	"NOP result injection": true,
	"IORING_SETUP_SQPOLL":  true,
}

// TestProbe checks that Probe leaves no descriptor open, and the report on
// this machine: the kernel release uname gives and liburing named; built
// without cgo, the honest answer (no binding, nothing probed); where
// io_uring is blocked, the setup error and a skip. Otherwise every listed
// feature appears once with a detail and is supported, each in a subtest;
// an optional feature this kernel lacks (NOP result injection before Linux
// 6.6, for one) skips with the probe's reason.
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
	if rep.Liburing == "" {
		t.Error("Liburing is empty")
	}
	if !bindingBuilt {
		if rep.IOUring || rep.IOUringError != "built without cgo: no io_uring binding in this binary" || len(rep.Features) != 0 {
			t.Errorf("without cgo: IOUring %v, IOUringError %q, %d features; want false, the not-built-in answer, none",
				rep.IOUring, rep.IOUringError, len(rep.Features))
		}
		return
	}
	if !rep.IOUring {
		if rep.IOUringError == "" {
			t.Error("IOUring false with no IOUringError")
		}
		t.Skipf("io_uring unusable here, so features are not checked: %s", rep.IOUringError)
	}
	if rep.IOUringError != "" {
		t.Errorf("IOUring true with IOUringError %q", rep.IOUringError)
	}
	got := make(map[string]ProbeFeature)
	for _, f := range rep.Features {
		if _, dup := got[f.Name]; dup {
			t.Errorf("feature %q listed twice", f.Name)
		}
		got[f.Name] = f
	}
	if len(rep.Features) != len(probeWanted) {
		t.Errorf("%d features reported, want the %d listed here", len(rep.Features), len(probeWanted))
	}
	for _, name := range probeWanted {
		t.Run(name, func(t *testing.T) {
			f, ok := got[name]
			switch {
			case !ok:
				t.Fatalf("feature %q missing from the report", name)
			case f.Detail == "":
				t.Errorf("feature %q has no detail", name)
			case !f.Supported && probeOptional[name]:
				t.Skipf("this kernel lacks %s: %s", name, f.Detail)
			case !f.Supported:
				t.Errorf("feature %q unsupported: %s", name, f.Detail)
			}
		})
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
		`"detail"`, `"liburing"`} {
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
