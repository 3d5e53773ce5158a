//go:build linux

package rionet

import "github.com/ringline-go/ringline/rio"

// handler is the rio Handler behind every adapter Conn: it moves bytes
// and events between the worker and the Conn's goroutines.
type handler struct {
	rio.NopHandler
	ln *Listener // nil for a Dialer
}

func (h *handler) OnOpen(rc rio.Conn) {
	if c, ok := rc.Value().(*Conn); ok { // a dialed connection: Dial waits for it
		c.local, c.remote = rc.LocalAddr(), rc.RemoteAddr()
		close(c.opened)
		return
	}
	c := newConn(rc.Worker().Server(), rc.Worker().ID(), rc)
	c.local, c.remote = rc.LocalAddr(), rc.RemoteAddr()
	if !h.ln.enqueue(c) {
		// No one accepts fast enough, or the listener is closed: refuse
		// it, as a full or closed backlog would.
		rc.Abort()
		return
	}
	rc.SetValue(c)
}

func (h *handler) OnData(rc rio.Conn, data []byte) int {
	rc.Value().(*Conn).received(data)
	return len(data)
}

func (h *handler) OnSent(rc rio.Conn, _ int) { signal(rc.Value().(*Conn).writable) }

// OnPeerEOF ends the Conn's input, as the peer's FIN ends a net.TCPConn's:
// Read returns io.EOF once the buffer is drained, and Write goes on until
// Close or CloseWrite.
func (h *handler) OnPeerEOF(rc rio.Conn) { rc.Value().(*Conn).inputEnded() }

func (h *handler) OnClose(rc rio.Conn, err error) {
	c, ok := rc.Value().(*Conn)
	if !ok {
		return // refused at OnOpen
	}
	c.end(err)
	if h.ln != nil {
		h.ln.release(rc.Worker().Server())
	}
}

var _ rio.PeerEOFHandler = (*handler)(nil)
