//go:build linux

package rionet

import (
	"sync"
	"time"

	"github.com/ringline-go/ringline/rio"
)

// handler is the rio Handler behind every adapter Conn: it moves bytes
// and events between the worker and the Conn's goroutines.
type handler struct {
	rio.NopHandler
	ln     *Listener     // nil for a Dialer
	linger time.Duration // the Config's CloseLinger: how long a Close waits for a Conn's outbound buffer

	// rooms holds, per worker (by ID), the Conns whose Write found the
	// worker's send pool full of other connections' bytes. Each list is
	// touched only on its worker; the first OnStart makes the slice.
	rooms     [][]*Conn
	roomsOnce sync.Once
}

func (h *handler) OnStart(w *rio.Worker) {
	h.roomsOnce.Do(func() { h.rooms = make([][]*Conn, w.Server().Workers()) })
}

func (h *handler) OnOpen(rc rio.Conn) {
	if c, ok := rc.Value().(*Conn); ok { // a dialed connection: Dial waits for it
		c.local, c.remote = rc.LocalAddr(), rc.RemoteAddr()
		close(c.opened)
		return
	}
	c := newConn(h, rc)
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

func (h *handler) OnSent(rc rio.Conn, _ int) {
	c := rc.Value().(*Conn)
	c.sendOut(rc.Worker())
	if c.lent && rc.Queued() == 0 {
		c.lent = false
		signal(c.drained)
	}
	signal(c.writable)
	h.roomMade(rc.Worker())
}

// OnPeerEOF ends the Conn's input, as the peer's FIN ends a net.TCPConn's:
// Read returns io.EOF once the buffer is drained, and Write goes on until
// Close or CloseWrite.
func (h *handler) OnPeerEOF(rc rio.Conn) { rc.Value().(*Conn).inputEnded() }

func (h *handler) OnClose(rc rio.Conn, err error) {
	h.roomMade(rc.Worker()) // its sends, if any, have left the pool
	c, ok := rc.Value().(*Conn)
	if !ok {
		return // refused at OnOpen
	}
	c.end(err)
	if h.ln != nil {
		h.ln.release(rc.Worker().Server())
	}
}

// waitRoom lists c as waiting for room in w's send pool; on w. Waiting
// for a completion rather than polling is safe because the pool is w's
// own: only a send completing (OnSent) or a connection closing (OnClose)
// on w makes room in it, and either wakes every Conn listed.
func (h *handler) waitRoom(w *rio.Worker, c *Conn) {
	h.rooms[w.ID()] = append(h.rooms[w.ID()], c)
}

// roomMade flushes the outbound buffers of the Conns waiting for room in
// w's send pool and wakes their Writes; on w. A flush that finds no room lists its Conn
// again, on a list of its own.
func (h *handler) roomMade(w *rio.Worker) {
	list := h.rooms[w.ID()]
	if len(list) == 0 {
		return
	}
	h.rooms[w.ID()] = nil
	for _, c := range list {
		c.sendOut(w)
		signal(c.writable)
	}
	clear(list)
	if h.rooms[w.ID()] == nil {
		h.rooms[w.ID()] = list[:0]
	}
}

var _ rio.PeerEOFHandler = (*handler)(nil)
