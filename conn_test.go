//go:build linux && cgo

package ringline

import (
	"encoding/binary"
	"path/filepath"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// connect submits a connect of a fresh socket in slot 0 to sa and returns
// the completion.
func connect(t *testing.T, family int, sa unix.Sockaddr) Completion {
	t.Helper()
	r, a := newRingArena(t, RingConfig{Entries: 4}, 4096)
	registerFds(t, r, 1, mustSocket(t, family, unix.SOCK_STREAM))
	raw, err := a.Sockaddr(sa)
	must(t, err)
	must(t, r.SubmitConnect(0, raw))
	return reapOne(t, r)
}

// Connect reaches listeners over IPv4, IPv6 and a Unix socket.
func TestConnect(t *testing.T) {
	cases := []struct {
		name   string
		family int
		listen func(t *testing.T) (int, unix.Sockaddr)
	}{
		{"IPv4", unix.AF_INET, func(t *testing.T) (int, unix.Sockaddr) { return boundListener(t, unix.AF_INET) }},
		{"IPv6", unix.AF_INET6, func(t *testing.T) (int, unix.Sockaddr) { return boundListener(t, unix.AF_INET6) }},
		{"Unix", unix.AF_UNIX, func(t *testing.T) (int, unix.Sockaddr) {
			sa := &unix.SockaddrUnix{Name: filepath.Join(t.TempDir(), "s")}
			ln := mustSocket(t, unix.AF_UNIX, unix.SOCK_STREAM)
			closeAtEnd(t, ln)
			must(t, unix.Bind(ln, sa))
			must(t, unix.Listen(ln, 1))
			return ln, sa
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ln, sa := c.listen(t)
			wantRes(t, connect(t, c.family, sa), ud(t, TagConnect, 0, 0), 0)
			conn, _, err := unix.Accept4(ln, unix.SOCK_CLOEXEC)
			must(t, err)
			unix.Close(conn)
		})
	}
}

func boundListener(t *testing.T, family int) (int, unix.Sockaddr) {
	ln := listenTCP(t, family)
	closeAtEnd(t, ln)
	sa, err := unix.Getsockname(ln)
	must(t, err)
	return ln, sa
}

// Connecting to a port nobody listens on completes with -ECONNREFUSED.
func TestConnectRefused(t *testing.T) {
	ln := listenTCP(t, unix.AF_INET)
	sa, err := unix.Getsockname(ln)
	unix.Close(ln) // the port is now free and closed
	must(t, err)
	wantRes(t, connect(t, unix.AF_INET, sa), ud(t, TagConnect, 0, 0), -int32(syscall.ECONNREFUSED))
}

// shutdown(SHUT_WR) lets the peer read EOF while the socket stays open.
func TestShutdown(t *testing.T) {
	r, _, server := ringConn(t, unix.AF_INET, 4, 4096)
	must(t, r.SubmitShutdown(0))
	wantRes(t, reapOne(t, r), ud(t, TagShutdown, 0, 0), 0)
	if n, err := readRetry(server, make([]byte, 1)); n != 0 || err != nil {
		t.Fatalf("peer read %d, %v after shutdown; want EOF", n, err)
	}
	_, err := unix.Write(server, []byte("x")) // the other direction still works
	must(t, err)
}

// The eventfd read returns the counter another writer added.
func TestEventfdRead(t *testing.T) {
	r, a := newRingArena(t, RingConfig{Entries: 4}, 4096)
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC)
	must(t, err)
	closeAtEnd(t, efd)
	buf, err := a.Alloc(8, 8)
	must(t, err)
	must(t, r.SubmitEventfdRead(efd, buf))
	if _, err := r.Flush(); err != nil {
		t.Fatal(err)
	}
	var add [8]byte
	binary.NativeEndian.PutUint64(add[:], 5)
	_, err = unix.Write(efd, add[:])
	must(t, err)
	wantRes(t, reapOne(t, r), ud(t, TagEventFdRead, 0, 0), 8)
	if v := binary.NativeEndian.Uint64(buf); v != 5 {
		t.Fatalf("eventfd counter %d, want 5", v)
	}
	if err := r.SubmitEventfdRead(efd, buf[:4]); err == nil {
		t.Fatal("a 4-byte eventfd buffer was accepted")
	}
}
