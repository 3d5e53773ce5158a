//go:build linux

package rio

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"testing"
)

// SendBorrowed sends 4 MiB of the handler's own memory, a budget's
// worth at a time as sends complete, with no send-pool slot: the client
// gets every byte in order. On a TLS connection it copies (and encrypts).
func TestSendBorrowed(t *testing.T) {
	forEachBackend(t, func(t *testing.T, cfg Config) {
		cfg.Workers = 1
		cfg.SendBudget = 256 << 10
		cfg.SendSlots = 4             // far less than the message: borrowed bytes take no slot
		big := randomBytes(4<<20, 11) // not pinned here: SendBorrowed pins what it queues
		queued := 0
		more := func(c Conn) {
			n, err := c.SendBorrowed(big[queued:])
			queued += n
			if err != nil && !errors.Is(err, ErrSendBudgetExhausted) {
				t.Errorf("SendBorrowed: %v", err)
			}
		}
		h := &hooks{
			open: func(c Conn) { more(c) },
			sent: func(c Conn, _ int) {
				switch {
				case queued < len(big):
					more(c)
				case c.Queued() == 0:
					c.Close()
				}
			},
		}
		srv := serve(t, "tcp", "127.0.0.1:0", cfg, h)
		conn := dialTCP(t, srv)
		defer conn.Close()
		got, err := io.ReadAll(conn)
		if err != nil || !bytes.Equal(got, big) {
			t.Fatalf("read %d of %d bytes (%v), or they differ", len(got), len(big), err)
		}
		if st := srv.Stats().Total(); st.SendPoolExhausted != 0 {
			t.Errorf("Stats.SendPoolExhausted = %d: borrowed bytes took pool slots", st.SendPoolExhausted)
		}

		cert, pool := testCert(t)
		tcfg := tlsServerConfig(cfg, cert)
		tcfg.SendSlots = 64
		tsrv := serve(t, "tcp", "127.0.0.1:0", tcfg, &hooks{open: func(c Conn) {
			msg := []byte("lent, then encrypted")
			if n, err := c.SendBorrowed(msg); n != len(msg) || err != nil {
				t.Errorf("SendBorrowed on a TLS connection: %d, %v", n, err)
			}
			clear(msg) // a copy was taken: the memory is the caller's again
			c.Close()
		}})
		tc := dialTLS(t, tsrv.Addr().String(), &tls.Config{RootCAs: pool})
		defer tc.Close()
		if got, err := io.ReadAll(tc); err != nil || string(got) != "lent, then encrypted" {
			t.Errorf("TLS client read %q, %v", got, err)
		}
	})
}
