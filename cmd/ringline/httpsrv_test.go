//go:build linux

package main

import (
	"crypto/tls"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestHTTPServes runs "ringline http" on each backend, plain and over
// TLS: the first line names the address and backend, GET / says hello,
// GET /bytes?n=N gives N bytes, and SIGINT ends it cleanly.
func TestHTTPServes(t *testing.T) {
	for _, backend := range []string{"uring", "epoll", "net"} {
		for _, secure := range []bool{false, true} {
			name := backend
			if secure {
				name += "/tls"
			}
			t.Run(name, func(t *testing.T) {
				if backend == "uring" {
					requireIOUring(t)
				}
				args := []string{"--addr", "127.0.0.1:0", "--backend", backend}
				if backend != "net" {
					args = append(args, "--workers", "1")
				}
				if secure {
					args = append(args, "--tls")
				}
				cmd, addr, line := startHTTP(t, args...)
				want := map[string]string{"uring": "backend=io_uring", "epoll": "backend=epoll", "net": "backend=net"}[backend]
				if !strings.Contains(line, want) {
					t.Errorf("first line %q, want %q", line, want)
				}
				scheme := "http://"
				client := &http.Client{Timeout: 10 * time.Second}
				if secure {
					scheme = "https://"
					client.Transport = &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, ForceAttemptHTTP2: true}
				}
				for path, want := range map[string]int{"/": len(helloBody), "/bytes?n=300000": 300000} {
					resp, err := client.Get(scheme + addr + path)
					if err != nil {
						t.Fatal(err)
					}
					body, err := io.ReadAll(resp.Body)
					resp.Body.Close()
					if err != nil || resp.StatusCode != 200 || len(body) != want || path == "/" && string(body) != helloBody {
						t.Fatalf("GET %s: %d, %d bytes, %v", path, resp.StatusCode, len(body), err)
					}
				}
				cmd.Process.Signal(syscall.SIGINT)
				if err := cmd.Wait(); err != nil {
					t.Errorf("exit after SIGINT: %v", err)
				}
			})
		}
	}
}
