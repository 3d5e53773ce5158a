//go:build linux && cgo

package ringline

import (
	"errors"
	"os"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// newRing sets up a ring for one test. The test goroutine is locked to its
// thread, as IORING_SETUP_SINGLE_ISSUER requires; Cleanup closes the ring.
func newRing(t testing.TB, cfg RingConfig) *Ring {
	t.Helper()
	runtime.LockOSThread()
	r, err := NewRing(cfg)
	if err != nil {
		runtime.UnlockOSThread()
		t.Fatalf("NewRing: %v", err)
	}
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Errorf("Ring.Close: %v", err)
		}
		runtime.UnlockOSThread()
	})
	return r
}

// newArena maps an arena freed at the end of the test.
func newArena(t testing.TB, size int) *Arena {
	t.Helper()
	a, err := NewArena(size)
	if err != nil {
		t.Fatalf("NewArena: %v", err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

// reap submits what is queued and gathers completions until n have arrived
// or five seconds pass, copying them out of the ring's reused buffer.
func reap(t testing.TB, r *Ring, n int) []Completion {
	t.Helper()
	var got []Completion
	deadline := time.Now().Add(5 * time.Second)
	for len(got) < n && time.Now().Before(deadline) {
		cqes, err := r.SubmitAndWaitTimeout(n-len(got), 100*time.Millisecond)
		if err != nil {
			t.Fatalf("SubmitAndWaitTimeout: %v", err)
		}
		got = append(got, cqes...)
	}
	if len(got) < n {
		t.Fatalf("got %d completions, want %d: %+v", len(got), n, got)
	}
	return got
}

// reapOne reaps exactly one completion.
func reapOne(t testing.TB, r *Ring) Completion {
	t.Helper()
	c := reap(t, r, 1)
	if len(c) != 1 {
		t.Fatalf("got %d completions, want 1: %+v", len(c), c)
	}
	return c[0]
}

func ud(t testing.TB, tag Tag, index, payload uint32) UserData {
	t.Helper()
	u, err := NewUserData(tag, index, payload)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// wantRes fails unless c has user_data u and result res.
func wantRes(t testing.TB, c Completion, u UserData, res int32) {
	t.Helper()
	if c.UserData != u || c.Res != res {
		t.Fatalf("completion %v res %d, want %v res %d", c.UserData, c.Res, u, res)
	}
}

// tcpPair returns a connected pair of TCP sockets over loopback of the given
// family (AF_INET on 127.0.0.1 or AF_INET6 on ::1), closed at cleanup.
func tcpPair(t testing.TB, family int) (client, server int) {
	t.Helper()
	return socketPair(t, family, unix.SOCK_STREAM)
}

func socketPair(t testing.TB, family, typ int) (client, server int) {
	t.Helper()
	var sa unix.Sockaddr = &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}
	if family == unix.AF_INET6 {
		sa = &unix.SockaddrInet6{Addr: [16]byte{15: 1}}
	}
	ln := mustSocket(t, family, typ)
	must(t, unix.Bind(ln, sa))
	bound, err := unix.Getsockname(ln)
	must(t, err)
	client = mustSocket(t, family, typ)
	if typ == unix.SOCK_DGRAM {
		return client, ln
	}
	must(t, unix.Listen(ln, 1))
	must(t, unix.Connect(client, bound))
	server, _, err = unix.Accept4(ln, unix.SOCK_CLOEXEC)
	must(t, err)
	t.Cleanup(func() { unix.Close(server) })
	return client, server
}

func mustSocket(t testing.TB, family, typ int) int {
	t.Helper()
	fd, err := unix.Socket(family, typ|unix.SOCK_CLOEXEC, 0)
	must(t, err)
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// registerFds sets up a sparse fixed-file table of n slots and installs fds
// from slot 0.
func registerFds(t testing.TB, r *Ring, n uint32, fds ...int) {
	t.Helper()
	must(t, r.RegisterFilesSparse(n))
	for i, fd := range fds {
		must(t, r.UpdateFiles(uint32(i), []int32{int32(fd)}))
	}
}

// readN reads exactly n bytes from a blocking socket.
func readN(t testing.TB, fd, n int) []byte {
	t.Helper()
	buf := make([]byte, n)
	for got := 0; got < n; {
		k, err := unix.Read(fd, buf[got:])
		if err != nil || k == 0 {
			t.Fatalf("read %d of %d bytes: %v", got, n, err)
		}
		got += k
	}
	return buf
}

// requireKernel skips when err says the kernel lacks a feature.
func requireKernel(t testing.TB, err error, feature string) {
	t.Helper()
	if errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.EOPNOTSUPP) || errors.Is(err, syscall.ENOSYS) {
		t.Skipf("kernel lacks %s: %v", feature, err)
	}
	must(t, err)
}

// uringResources counts this process's io_uring descriptors and mappings.
func uringResources() (fds, maps int) {
	ents, _ := os.ReadDir("/proc/self/fd")
	for _, e := range ents {
		if l, err := os.Readlink("/proc/self/fd/" + e.Name()); err == nil && strings.Contains(l, "io_uring") {
			fds++
		}
	}
	b, _ := os.ReadFile("/proc/self/maps")
	maps = strings.Count(string(b), "io_uring")
	return fds, maps
}
