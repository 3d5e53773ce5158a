//go:build linux

package rio

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// manyConns is how many connections one worker must hold at the default
// Config.
const manyConns = 10000

// TestTenThousandConnsOneWorker guards the default Config's capacity: one
// worker, every other field at its default, holds 10,000 connections at
// once, each echoing 8 bytes checked by the client, and makes slots only
// for the connections it has (in chunks), not for all of MaxConns. The
// clients run in a child process (this test binary, as
// TestHelperDialMany), so each side has its own descriptor limit.
func TestTenThousandConnsOneWorker(t *testing.T) {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil || lim.Max < manyConns+512 {
		t.Skipf("RLIMIT_NOFILE hard limit %d (%v) cannot hold %d connections", lim.Max, err, manyConns)
	}
	forEachBackend(t, func(t *testing.T, cfg Config) {
		cfg.Workers = 1
		srv := serve(t, "tcp", "127.0.0.1:0", cfg, echoHandler{})
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperDialMany$", "-test.count=1")
		cmd.Env = append(os.Environ(), "RIO_DIAL_ADDR="+srv.Addr().String(), "RIO_DIAL_N="+strconv.Itoa(manyConns))
		cmd.Stderr = os.Stderr
		stdin, _ := cmd.StdinPipe()
		stdout, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer cmd.Wait()
		defer stdin.Close() // the child closes its connections and exits
		lines := bufio.NewScanner(stdout)
		var report string
		for lines.Scan() {
			if report = lines.Text(); strings.HasPrefix(report, "dial-many:") {
				break
			}
		}
		if report != fmt.Sprintf("dial-many: %d echoed", manyConns) {
			t.Fatalf("the client process reported %q, want all %d connections echoed", report, manyConns)
		}
		eventually(t, "the worker holding every connection", 60*time.Second, func() bool {
			return srv.Stats().Total().Conns == manyConns
		})
		onWorker(t, srv, 0, func(w *Worker) {
			if made, most := w.conns.made(), manyConns+slotChunkSize; made > most {
				t.Errorf("%d slots made for %d connections, want at most %d", made, manyConns, most)
			}
		})
	})
}

// TestHelperDialMany is the client process of TestTenThousandConnsOneWorker:
// it opens RIO_DIAL_N connections to RIO_DIAL_ADDR, echoes 8 bytes on each
// with every byte checked, prints one "dial-many:" line, and holds the
// connections open until its standard input closes.
func TestHelperDialMany(t *testing.T) {
	addr, n := os.Getenv("RIO_DIAL_ADDR"), os.Getenv("RIO_DIAL_N")
	if addr == "" {
		t.Skip("the client process of TestTenThousandConnsOneWorker")
	}
	count, _ := strconv.Atoi(n)
	conns := make([]net.Conn, 0, count)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	echoed := 0
	for i := range count {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			fmt.Printf("dial-many: dial %d: %v\n", i, err)
			return
		}
		conns = append(conns, c)
		c.SetDeadline(time.Now().Add(60 * time.Second))
		msg := []byte(fmt.Sprintf("%08d", i%100000000))
		if err := echoClient(c, [][]byte{msg}); err != nil {
			fmt.Printf("dial-many: conn %d: %v\n", i, err)
			return
		}
		echoed++
	}
	fmt.Printf("dial-many: %d echoed\n", echoed)
	io.Copy(io.Discard, os.Stdin)
}
