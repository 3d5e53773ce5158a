//go:build linux

package rio

import (
	"crypto/tls"
	"net"
	"testing"
)

// BenchmarkTLSEchoParallel is BenchmarkEchoParallel over TLS 1.3: the same
// crypto/tls clients against Go's net with crypto/tls (a goroutine per
// connection) and against a one-worker server with Config.TLS. Each
// client goroutine's handshake falls inside the timed run, once per
// connection.
func BenchmarkTLSEchoParallel(b *testing.B) { tlsEchoParallel(b, 1024) }

// BenchmarkTLSEchoParallelBulk is BenchmarkTLSEchoParallel with 64 KiB
// messages, where what each byte costs on its way (encryption, copies)
// outweighs what each message does.
func BenchmarkTLSEchoParallelBulk(b *testing.B) { tlsEchoParallel(b, 64<<10) }

// tlsEchoParallel runs the TLS echo round trips with messages of size
// bytes against Go's net with crypto/tls and against each backend.
func tlsEchoParallel(b *testing.B, size int) {
	cert, pool := testCert(b)
	ccfg := &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}
	scfg := &tls.Config{Certificates: []tls.Certificate{cert}}
	b.Run("net", func(b *testing.B) {
		ln, err := tls.Listen("tcp", "127.0.0.1:0", scfg)
		if err != nil {
			b.Fatal(err)
		}
		stop := serveNetEcho(ln)
		echoParallelDial(b, size, func() (net.Conn, error) { return tls.Dial("tcp", ln.Addr().String(), ccfg) })
		stop()
	})
	for _, bc := range builtBackends() {
		if err := backendUsable(bc); err != nil {
			b.Skipf("%s unusable here: %v", bc.name, err)
		}
		b.Run(bc.name, func(b *testing.B) {
			cfg := bc.cfg
			cfg.TLS = scfg
			addr := oneWorkerEcho(b, cfg)
			echoParallelDial(b, size, func() (net.Conn, error) { return tls.Dial("tcp", addr, ccfg) })
		})
	}
}
