//go:build linux

package rio

import "fmt"

// A connection's life is one state plus two small bit sets: the operations
// the kernel may still act on (in flight) and what has happened to it
// (marks). Every change of state goes through setState, which holds the
// legal transitions:
//
//	free ──► connecting ──► open ──► draining ──► lingering ──► final ──► free
//	  │          │  ▲         │          │                        ▲
//	  └──────────┼──┘         └──────────┴──────────► final ◄─────┘ (closeNow)
//	             └──► free (a dial that could not start)
//
// Graceful close: open → draining (queued sends drain, then FIN) →
// lingering (input discarded until the peer's FIN) → final. Immediate close:
// any live state → final (what is in flight is cancelled). final → free once
// nothing is in flight: the descriptor is closed, OnClose runs and the
// generation advances.

// connState is where a connection slot is in its life.
type connState uint8

const (
	connFree       connState = iota // in the free list
	connConnecting                  // an outbound connect is in flight
	connOpen                        // serving: data is delivered, sends accepted
	connDraining                    // graceful close: queued sends drain, then FIN
	connLingering                   // FIN sent: discarding input until the peer's FIN
	connFinal                       // cancelling what is in flight, then the close
	connStates
)

var stateNames = [connStates]string{"free", "connecting", "open", "draining", "lingering", "final"}

// legalNext lists, per state, the states it may move to.
var legalNext = [connStates][]connState{
	connFree:       {connConnecting, connOpen},
	connConnecting: {connOpen, connFinal, connFree},
	connOpen:       {connDraining, connFinal},
	connDraining:   {connLingering, connFinal},
	connLingering:  {connFinal},
	connFinal:      {connFree},
}

// setState moves s to next. An illegal transition is a bug in the runtime,
// not something a handler can cause, so it panics.
func (s *connSlot) setState(next connState) {
	for _, ok := range legalNext[s.state] {
		if ok == next {
			s.state = next
			return
		}
	}
	panic(fmt.Sprintf("rio: illegal connection transition %s -> %s", stateNames[s.state], stateNames[next]))
}

// alive reports whether the connection has not begun its final close.
func (s *connSlot) alive() bool { return s.state != connFree && s.state != connFinal }

// inflight is the set of operations the kernel may still act on for a
// connection; its descriptor is closed only when the set is empty (but for
// the cancel marks, which only record that a cancel was asked for).
type inflight uint8

const (
	inRecv       inflight = 1 << iota // the multishot recv has not given its final completion
	inRecvCancel                      // a cancel of the recv was asked for
	inSend                            // a sendmsg, or the POLLOUT that resumes it
	inPollOut                         // with inSend: it is the POLLOUT wait
	inSendCancel                      // a cancel of the send or POLLOUT was asked for
	inConnect                         // the connect
	inShutdown                        // the shutdown(SHUT_WR)
)

// busy are the bits that hold the descriptor open.
const busy = inRecv | inSend | inConnect | inShutdown

// marks records what has happened to a connection.
type marks uint16

const (
	markPeerEOF     marks = 1 << iota // the peer's FIN arrived
	markWriteClosed                   // CloseWrite: no more sends; FIN once the queue drains
	markFinSent                       // the shutdown(SHUT_WR) was issued
	markPaused                        // a refused send paused the receive; in Worker.paused
	markDirty                         // sends queued but not issued; in Worker.dirty
	markOpened                        // OnOpen ran: the handler knows the connection
	markReset                         // SO_LINGER 0 is set: the close sends a reset
	markStarved                       // its receive found no buffer; in Worker.starved
	markHeld                          // the handler held the receive (Conn.HoldReceive)
)

func (s *connSlot) has(b inflight) bool { return s.ops&b != 0 }
func (s *connSlot) set(b inflight)      { s.ops |= b }
func (s *connSlot) clear(b inflight)    { s.ops &^= b }
func (s *connSlot) is(m marks) bool     { return s.marks&m != 0 }
func (s *connSlot) mark(m marks)        { s.marks |= m }
func (s *connSlot) unmark(m marks)      { s.marks &^= m }

// inFlight reports whether the kernel may still act on the descriptor.
func (s *connSlot) inFlight() bool { return s.ops&busy != 0 }
