//go:build linux

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ringline-go/ringline/rio"
)

// benchShort are the settings of every in-process bench run: short, and
// small enough for the race detector.
var benchShort = []string{"--json", "--conns", "8", "--size", "1000", "--pipeline", "4",
	"--duration", "300ms", "--warmup", "100ms"}

// benchTestEcho echoes what arrives, as much as the send pool takes.
type benchTestEcho struct{ rio.NopHandler }

func (benchTestEcho) OnData(c rio.Conn, data []byte) int {
	n, _ := c.SendSome(data)
	return n
}

// ringlineEcho starts an in-process ringline echo server on network and
// address and returns its address; it skips the test when this build has
// no ringline backend.
func ringlineEcho(t *testing.T, network, address string) string {
	t.Helper()
	srv, err := rio.Listen(context.Background(), network, address, rio.Config{Workers: 1}, benchTestEcho{})
	if errors.Is(err, rio.ErrUnsupported) {
		t.Skipf("no ringline backend in this build: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv.Addr().String()
}

// benchClients are the clients a test runs: both when the ringline
// runtime can start here, else net alone.
func benchClients(t *testing.T) []string {
	srv, err := rio.StartClient(context.Background(), rio.Config{Workers: 1}, rio.NopHandler{})
	if err != nil {
		t.Logf("ringline client not tested: %v", err)
		return []string{"net"}
	}
	srv.Close()
	return []string{"net", "ringline"}
}

// runBenchJSON runs bench in-process with args and decodes its JSON result
// when it printed one.
func runBenchJSON(t *testing.T, args ...string) (int, benchResult, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := runBench(args, &stdout, &stderr)
	var r benchResult
	if stdout.Len() > 0 {
		if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
			t.Fatalf("bench %v: stdout is not a result (%v): %q", args, err, stdout.String())
		}
	}
	return code, r, stderr.String()
}

// waitGoroutines fails the test unless the goroutines return to at most n
// within a few seconds.
func waitGoroutines(t *testing.T, n int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); runtime.NumGoroutine() > n; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines left, %d before the run:\n%s", runtime.NumGoroutine(), n, buf[:runtime.Stack(buf, true)])
		}
	}
}

// TestBenchEcho checks that both clients, over TCP and a Unix socket,
// complete echoes against a correct server with no error, exit 0 with a
// JSON result that adds up, and leave no goroutine behind.
func TestBenchEcho(t *testing.T) {
	tcp := ringlineEcho(t, "tcp", "127.0.0.1:0")
	sock := ringlineEcho(t, "unix", t.TempDir()+"/echo.sock")
	for _, client := range benchClients(t) {
		for _, target := range [][]string{{"--addr", tcp}, {"--unix", sock}} {
			t.Run(client+"/"+target[0][2:], func(t *testing.T) {
				before := runtime.NumGoroutine()
				args := append(append([]string{"--client", client}, target...), benchShort...)
				code, r, stderr := runBenchJSON(t, args...)
				if code != 0 || r.Ops == 0 || r.Errors != 0 {
					t.Fatalf("exit %d, %d echoes, %d errors %q; stderr: %s", code, r.Ops, r.Errors, r.ErrorSamples, stderr)
				}
				if r.Client != client || r.Addr != target[1] || r.Conns != 8 || r.Size != 1000 || r.Pipeline != 4 {
					t.Errorf("result describes %+v, not the run asked for", r)
				}
				if r.Seconds <= 0 || r.OpsPerSec <= 0 || r.MBPerSec <= 0 || r.P50us <= 0 || r.P50us > r.P99us || r.P99us > r.MaxUs {
					t.Errorf("figures do not add up: %+v", r)
				}
				waitGoroutines(t, before)
			})
		}
	}
}

// badServer serves each connection with serve on a loopback listener
// until the test ends, then closes everything and waits for its
// goroutines.
func badServer(t *testing.T, serve func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				serve(c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// corruptingEcho echoes the stream with one bit of every 3000th byte
// flipped.
func corruptingEcho(c net.Conn) {
	buf := make([]byte, 4096)
	var off int
	for {
		n, err := c.Read(buf)
		for i := range n {
			if (off+i)%3000 == 2999 {
				buf[i] ^= 0x10
			}
		}
		off += n
		if _, werr := c.Write(buf[:n]); werr != nil || err != nil {
			return
		}
	}
}

// truncatingEcho echoes the first 1500 bytes of the stream, then closes
// its side (a FIN) and discards the rest.
func truncatingEcho(c net.Conn) {
	buf := make([]byte, 1500)
	n, _ := io.ReadFull(c, buf)
	c.Write(buf[:n])
	c.(*net.TCPConn).CloseWrite()
	io.Copy(io.Discard, c)
}

// TestBenchDetectsBadEchoes checks that each client counts and describes
// an error, and exits 1, against a server that corrupts a byte now and
// then and against one that echoes part of the stream and closes.
func TestBenchDetectsBadEchoes(t *testing.T) {
	servers := []struct {
		name  string
		serve func(net.Conn)
		want  string // in the first error sample
	}{
		{"corrupting", corruptingEcho, "echoed byte"},
		{"truncating", truncatingEcho, "closed the connection after 500 of the 1000 bytes"},
	}
	for _, client := range benchClients(t) {
		for _, s := range servers {
			t.Run(client+"/"+s.name, func(t *testing.T) {
				addr := badServer(t, s.serve)
				code, r, stderr := runBenchJSON(t, append([]string{"--client", client, "--addr", addr}, benchShort...)...)
				if code != 1 || r.Errors == 0 || len(r.ErrorSamples) == 0 {
					t.Fatalf("exit %d, %d errors %q, want exit 1 and errors; stderr: %s", code, r.Errors, r.ErrorSamples, stderr)
				}
				t.Logf("%d errors, first: %s", r.Errors, r.ErrorSamples[0])
				if !strings.Contains(r.ErrorSamples[0], s.want) || !strings.Contains(stderr, "errors") {
					t.Errorf("first error %q (stderr %q), want it to say %q", r.ErrorSamples[0], stderr, s.want)
				}
			})
		}
	}
}

// TestBenchServerCPU checks that --server-pid reports the CPU time the
// named process used in the window: here the test's own process, which
// runs both the client and the server.
func TestBenchServerCPU(t *testing.T) {
	addr := ringlineEcho(t, "tcp", "127.0.0.1:0")
	code, r, stderr := runBenchJSON(t, append([]string{"--addr", addr, "--server-pid", strconv.Itoa(os.Getpid())}, benchShort...)...)
	if code != 0 || r.ServerCPUSeconds <= 0 || r.OpsPerServerCPUSecond <= 0 {
		t.Fatalf("exit %d, server CPU %v s, %v ops per CPU-second; stderr: %s", code, r.ServerCPUSeconds, r.OpsPerServerCPUSecond, stderr)
	}
}

// TestBenchBadFlags checks that bad flags exit 2 with a message naming the
// flag, before any connection is attempted.
func TestBenchBadFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--conns", "0"}, "--conns 0"},
		{[]string{"--size", "-1"}, "--size -1"},
		{[]string{"--client", "foo"}, `--client "foo"`},
		{[]string{"--frobnicate"}, "-frobnicate"},
		{[]string{"--pipeline", "x"}, "-pipeline"},
		{[]string{"--addr", "127.0.0.1:1", "--unix", "/tmp/x"}, "--unix"},
		{[]string{"--server-pid", "-3"}, "--server-pid"},
		{[]string{"--client-workers", "0"}, "--client-workers 0"},
	} {
		var stdout, stderr bytes.Buffer
		code := runBench(tc.args, &stdout, &stderr)
		if code != 2 || !strings.Contains(stderr.String(), tc.want) || stdout.Len() != 0 {
			t.Errorf("bench %v: exit %d, stderr %q, stdout %q; want exit 2 and a message with %q", tc.args, code, stderr.String(), stdout.String(), tc.want)
		}
	}
}

// TestBenchNoServer checks that a run against an address where nothing
// listens exits 1 and says the connection was refused, with each client.
func TestBenchNoServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	for _, client := range benchClients(t) {
		code, r, stderr := runBenchJSON(t, append([]string{"--client", client, "--addr", addr}, benchShort...)...)
		if code != 1 || !strings.Contains(stderr, "connection refused") || !strings.Contains(stderr, addr) || r.Client != "" {
			t.Errorf("client %s: exit %d, stderr %q, result %+v; want exit 1, no result, and a message saying the connection to %s was refused", client, code, stderr, r, addr)
		}
	}
}

// TestBenchPattern checks the request pattern: the check accepts the
// echo at any offset and split, and catches a flipped byte, an echo of the
// next request (reordered or duplicated) and one of another connection.
func TestBenchPattern(t *testing.T) {
	const size = 1000
	req := make([]byte, size)
	fillPattern(req, requestSeed(3, 7), 0)
	for _, split := range []int{0, 1, 7, 8, 9, 501, size} {
		part := make([]byte, size-split)
		fillPattern(part, requestSeed(3, 7), split)
		if !bytes.Equal(part, req[split:]) || checkPattern(req[:split], requestSeed(3, 7), 0) >= 0 || checkPattern(req[split:], requestSeed(3, 7), split) >= 0 {
			t.Fatalf("the pattern from offset %d differs from the whole request's", split)
		}
	}
	bad := bytes.Clone(req)
	bad[613] ^= 1
	if got := checkPattern(bad, requestSeed(3, 7), 0); got != 613 {
		t.Errorf("flipped byte 613: check says %d", got)
	}
	if got := checkPattern(bad[600:], requestSeed(3, 7), 600); got != 13 {
		t.Errorf("flipped byte 613, checked from 600: check says %d", got)
	}
	next := make([]byte, size)
	fillPattern(next, requestSeed(3, 8), 0)
	if checkPattern(next, requestSeed(3, 7), 0) < 0 {
		t.Error("request 8's echo passes as request 7's")
	}
	if msg := mismatch(3, 7, size, next, 0, checkPattern(next, requestSeed(3, 7), 0), 4); !strings.Contains(msg, "request 8's") {
		t.Errorf("mismatch does not name the reordered request: %s", msg)
	}
	if checkPattern(req, requestSeed(4, 7), 0) < 0 {
		t.Error("connection 3's echo passes as connection 4's")
	}
}
