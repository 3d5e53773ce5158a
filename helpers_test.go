//go:build linux && cgo

package ringline

import (
	"errors"
	"runtime"
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
		delete(backlog, r)
		if err := r.Close(); err != nil {
			t.Errorf("Ring.Close: %v", err)
		}
		runtime.UnlockOSThread()
	})
	return r
}

// newRingArena sets up a ring and an arena. The arena is mapped first so
// that it is unmapped after the ring has closed (cleanups run last in, first
// out): nothing the kernel may still read is freed under it.
func newRingArena(t testing.TB, cfg RingConfig, arenaSize int) (*Ring, *Arena) {
	t.Helper()
	a := newArena(t, arenaSize)
	return newRing(t, cfg), a
}

// requireNopInject skips unless the kernel honours IORING_NOP_INJECT_RESULT
// (Linux 6.6): an older one completes the NOP with 0.
func requireNopInject(t testing.TB, r *Ring) {
	t.Helper()
	probe := UserData(1<<63 | 1) // not one of the test's own
	must(t, r.SubmitNopInject(probe, -int32(syscall.EIO)))
	if c := reapOne(t, r); c.Res != -int32(syscall.EIO) {
		t.Skipf("kernel lacks IORING_NOP_INJECT_RESULT (NOP completed with %d)", c.Res)
	}
}

// gatherMsg builds an off-heap msghdr whose iovecs hold parts, in order.
func gatherMsg(t testing.TB, a *Arena, parts ...string) *unix.Msghdr {
	t.Helper()
	msg, iov, err := a.Msghdr(len(parts))
	must(t, err)
	for i, p := range parts {
		b, err := a.Alloc(len(p), 1)
		must(t, err)
		copy(b, p)
		SetIovec(&iov[i], b)
	}
	return msg
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

// backlog holds completions reaped beyond what a test asked for, per ring,
// so reapOne can hand them out one at a time. Tests run one at a time.
var backlog = map[*Ring][]Completion{}

// reap submits what is queued and returns exactly n completions, waiting up
// to five seconds; completions are copied out of the ring's reused buffer.
func reap(t testing.TB, r *Ring, n int) []Completion {
	t.Helper()
	got := backlog[r]
	deadline := time.Now().Add(5 * time.Second)
	for len(got) < n && time.Now().Before(deadline) {
		cqes, err := r.SubmitAndWaitTimeout(n-len(got), 100*time.Millisecond)
		got = append(got, cqes...) // real completions, even alongside an error
		if err != nil {
			t.Fatalf("SubmitAndWaitTimeout: %v (completions so far: %+v)", err, got)
		}
	}
	if len(got) < n {
		t.Fatalf("got %d completions, want %d: %+v", len(got), n, got)
	}
	backlog[r] = got[n:]
	if len(backlog[r]) == 0 {
		delete(backlog, r)
	}
	return got[:n:n]
}

// reapOne reaps one completion.
func reapOne(t testing.TB, r *Ring) Completion { return reap(t, r, 1)[0] }

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
// family (AF_INET on 127.0.0.1 or AF_INET6 on ::1). The caller owns both:
// hand one to the ring with toRing or close it with closeAtEnd.
func tcpPair(t testing.TB, family int) (client, server int) {
	t.Helper()
	ln := listenTCP(t, family)
	defer unix.Close(ln)
	bound, err := unix.Getsockname(ln)
	must(t, err)
	client = mustSocket(t, family, unix.SOCK_STREAM)
	must(t, unix.Connect(client, bound))
	server, _, err = unix.Accept4(ln, unix.SOCK_CLOEXEC)
	must(t, err)
	return client, server
}

// ringConn sets up a ring of entries with one end of a loopback TCP
// connection in fixed-file slot 0 and an arena of arenaSize bytes, and returns
// the other end (closed when the test ends) for the test to read and write.
func ringConn(t testing.TB, family int, entries uint32, arenaSize int) (*Ring, *Arena, int) {
	t.Helper()
	r, a := newRingArena(t, RingConfig{Entries: entries}, arenaSize)
	ours, peer := tcpPair(t, family)
	closeAtEnd(t, peer)
	registerFds(t, r, 1, ours)
	return r, a, peer
}

// listenTCP returns a socket listening on loopback port 0, owned by the caller.
func listenTCP(t testing.TB, family int) int {
	t.Helper()
	ln := mustSocket(t, family, unix.SOCK_STREAM)
	must(t, unix.Bind(ln, loopback(family, 0)))
	must(t, unix.Listen(ln, 8))
	return ln
}

// udpPair returns two UDP sockets bound to loopback ports, owned by the caller.
func udpPair(t testing.TB, family int) (a, b int) {
	t.Helper()
	a, b = mustSocket(t, family, unix.SOCK_DGRAM), mustSocket(t, family, unix.SOCK_DGRAM)
	must(t, unix.Bind(a, loopback(family, 0)))
	must(t, unix.Bind(b, loopback(family, 0)))
	return a, b
}

func loopback(family, port int) unix.Sockaddr {
	if family == unix.AF_INET6 {
		return &unix.SockaddrInet6{Addr: [16]byte{15: 1}, Port: port}
	}
	return &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}, Port: port}
}

func mustSocket(t testing.TB, family, typ int) int {
	t.Helper()
	fd, err := unix.Socket(family, typ|unix.SOCK_CLOEXEC, 0)
	must(t, err)
	return fd
}

// closeAtEnd closes fds when the test ends.
func closeAtEnd(t testing.TB, fds ...int) {
	t.Cleanup(func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	})
}

// toRing installs fd in fixed-file slot and closes the caller's descriptor:
// from then on the ring's table holds the only reference.
func toRing(t testing.TB, r *Ring, slot uint32, fd int) {
	t.Helper()
	err := r.UpdateFiles(slot, []int32{int32(fd)})
	unix.Close(fd)
	must(t, err)
}

var families = []struct {
	name   string
	family int
}{{"IPv4", unix.AF_INET}, {"IPv6", unix.AF_INET6}}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// registerFds sets up a sparse fixed-file table of n slots and hands fds to
// it from slot 0 (see toRing).
func registerFds(t testing.TB, r *Ring, n uint32, fds ...int) {
	t.Helper()
	must(t, r.RegisterFilesSparse(n))
	for i, fd := range fds {
		toRing(t, r, uint32(i), fd)
	}
}

// readN reads exactly n bytes from a blocking socket, failing rather than
// hanging when they do not come within 10 s.
func readN(t testing.TB, fd, n int) []byte {
	t.Helper()
	rcvTimeout(t, fd, 10)
	buf := make([]byte, n)
	for got := 0; got < n; {
		k, err := readRetry(fd, buf[got:])
		if err != nil || k == 0 {
			t.Fatalf("read %d of %d bytes: %v", got, n, err)
		}
		got += k
	}
	return buf
}

// rcvTimeout bounds each blocking read on socket fd (SO_RCVTIMEO), so a
// missing byte or EOF fails the test instead of hanging it.
func rcvTimeout(t testing.TB, fd int, seconds int64) {
	t.Helper()
	must(t, unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Sec: seconds}))
}

// readRetry is a blocking read that retries when a signal (such as the Go
// runtime's preemption signal) interrupts it.
func readRetry(fd int, buf []byte) (int, error) {
	for {
		n, err := unix.Read(fd, buf)
		if err != unix.EINTR {
			return n, err
		}
	}
}

// requireKernel skips when err says the kernel lacks a feature.
func requireKernel(t testing.TB, err error, feature string) {
	t.Helper()
	if errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.EOPNOTSUPP) || errors.Is(err, syscall.ENOSYS) {
		t.Skipf("kernel lacks %s: %v", feature, err)
	}
	must(t, err)
}
