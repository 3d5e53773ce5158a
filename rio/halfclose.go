//go:build linux

package rio

import "io"

// Half-close: each side shuts its sending direction on its own. The
// handler's side shuts with Conn.CloseWrite (a FIN once the queued sends
// drain); the peer's side with its FIN, which ends the input. When a
// PeerEOFHandler keeps a connection open past the peer's FIN, the
// connection ends once its own FIN has gone too.

// inputEnded handles the end of an open connection's input: the peer's FIN,
// once every byte before it was offered to OnData. A PeerEOFHandler hears
// of it and the connection stays open for sends; otherwise, or when this
// side has shut already, the connection closes gracefully with io.EOF.
func (w *Worker) inputEnded(s *connSlot, idx uint32) {
	h, ok := w.h.(PeerEOFHandler)
	if !ok || s.is(markWriteClosed) {
		w.closeGraceful(s, idx, io.EOF)
		return
	}
	s.acc = s.acc[:0] // never offered again
	w.callPeerEOF(h, s, idx)
}

// bothShut closes an open connection whose FIN has just gone after the
// peer's came (CloseWrite after OnPeerEOF): nothing is left to carry. The
// close is graceful, so it finds the FINs both done and does not linger.
// It reports whether it closed.
func (w *Worker) bothShut(s *connSlot, idx uint32) bool {
	if s.state != connOpen || !s.is(markPeerEOF) {
		return false
	}
	w.closeGraceful(s, idx, io.EOF)
	return true
}
