//go:build linux

package rio

import (
	"fmt"
	"io"
	"net"
	"os"
	"syscall"

	"github.com/ringline-go/ringline/internal/backend"
)

// Receiving: one multishot recv per connection, filling the worker's pool
// of provided buffers. A buffer goes back to the pool as soon as its bytes
// were delivered (or copied to the accumulator); the backend publishes the
// returns in one batch per iteration.

// armRecv arms the connection's multishot recv.
func (w *Worker) armRecv(s *connSlot, idx uint32) {
	if err := w.be.Recv(s.fd, userData(opRecv, idx, s.gen)); err != nil {
		w.closeNow(s, idx, err)
		return
	}
	s.recvArmed = true
}

// onRecv handles one receive completion.
func (w *Worker) onRecv(c *backend.Completion, idx, gen uint32) {
	s := w.live(idx, gen)
	if c.Flags&backend.FlagBuffer != 0 {
		id := uint16(c.Flags >> backend.BufferShift)
		if s != nil && c.Res > 0 {
			w.stats.bytesIn.Add(uint64(c.Res))
			if s.state == connOpen {
				w.deliver(s, idx, w.be.Buffer(id)[:c.Res])
			}
		}
		w.be.Release(id)
	}
	if s == nil {
		return
	}
	if c.Flags&backend.FlagMore == 0 {
		s.recvArmed, s.recvCancel = false, false
	}
	switch {
	case c.Res == 0:
		if s.recvArmed { // a zero-length datagram cannot happen on a stream
			return
		}
		w.peerClosed(s, idx)
	case c.Res == -int32(syscall.ENOBUFS):
		w.stats.enobufs.Add(1) // the data waits in the socket; re-armed below
	case c.Res == -int32(syscall.ECANCELED):
		// Paused for backpressure, or closing.
	case c.Res < 0:
		w.closeNow(s, idx, opError("read", s, syscall.Errno(-c.Res)))
	}
	switch {
	case s.state == connFinal:
		w.finish(s, idx)
	case !s.recvArmed && !s.peerEOF && !s.blocked && (s.state == connOpen || s.state == connLingering):
		w.armRecv(s, idx)
	}
}

// deliver hands data to OnData, in front of which any unconsumed bytes go;
// what is left over is kept in the accumulator.
func (w *Worker) deliver(s *connSlot, idx uint32, data []byte) {
	if len(s.acc) == 0 {
		n, refused, ok := w.callData(s, idx, data)
		if ok && s.state == connOpen && n < len(data) {
			w.pauseIfRefused(s, idx, refused)
			w.accumulate(s, idx, data[n:])
		}
		return
	}
	if !w.accumulate(s, idx, data) || s.blocked {
		return // closed, or waiting for the send pool: delivered on retry
	}
	w.deliverAcc(s, idx)
}

// deliverAcc offers the accumulated bytes to OnData again.
func (w *Worker) deliverAcc(s *connSlot, idx uint32) {
	n, refused, ok := w.callData(s, idx, s.acc)
	if ok && s.state == connOpen {
		s.acc = s.acc[:copy(s.acc, s.acc[n:])]
		if len(s.acc) > 0 {
			w.pauseIfRefused(s, idx, refused)
		}
	}
}

// pauseIfRefused blocks a connection whose OnData left bytes unconsumed
// after a Send was refused for lack of slots: it waits for them.
func (w *Worker) pauseIfRefused(s *connSlot, idx uint32, refused int) {
	if refused > 0 {
		w.block(s, idx, refused)
	}
}

// accumulate appends data to the connection's accumulator, closing the
// connection with ErrRecvBufferFull past Config.AccCap. Input that arrives
// while a paused recv is being cancelled is kept whatever the cap: the
// kernel took it from the socket before the cancel, and the receive buffer
// pool bounds it.
func (w *Worker) accumulate(s *connSlot, idx uint32, data []byte) bool {
	if len(s.acc)+len(data) > w.cfg.AccCap && !(s.blocked && s.recvCancel) {
		w.closeNow(s, idx, fmt.Errorf("%w: %d bytes unconsumed, cap %d", ErrRecvBufferFull, len(s.acc)+len(data), w.cfg.AccCap))
		return false
	}
	if s.acc == nil {
		s.acc = make([]byte, 0, max(w.cfg.AccInitial, len(data)))
	}
	s.acc = append(s.acc, data...)
	return true
}

// block records that OnData left bytes unconsumed after a Send it made was
// refused for lack of slots: the connection's recv is paused (cancelled) so
// TCP pushes back on the peer, and OnData is called again with the
// unconsumed bytes once need slots are free.
func (w *Worker) block(s *connSlot, idx uint32, need int) {
	s.wantSlots = max(s.wantSlots, need)
	if s.blocked {
		return
	}
	s.blocked = true
	w.blocked = append(w.blocked, connRef{idx, s.gen})
	if s.recvArmed && !s.recvCancel {
		s.recvCancel = true
		w.cancel(userData(opRecv, idx, s.gen))
	}
}

// unblock takes the connection off the blocked list's books (its entry is
// skipped when the list is walked).
func (w *Worker) unblock(s *connSlot) { s.blocked, s.wantSlots = false, 0 }

// retryBlocked offers the unconsumed bytes of blocked connections to OnData
// again, oldest first, each once the slots its refused send needed are free.
func (w *Worker) retryBlocked() {
	if len(w.blocked) == 0 || w.pool.available() == 0 {
		return
	}
	list := w.blocked
	w.blocked = nil
	for _, r := range list {
		s := &w.conns[r.idx]
		if s.gen != r.gen || !s.blocked {
			continue
		}
		if s.wantSlots > w.pool.available() {
			w.blocked = append(w.blocked, r) // keeps its place
			continue
		}
		s.blocked, s.wantSlots = false, 0
		if s.state == connOpen && len(s.acc) > 0 {
			w.deliverAcc(s, r.idx)
		}
		if s.blocked || s.state != connOpen {
			continue
		}
		if s.peerEOF {
			w.closeGraceful(s, r.idx, io.EOF)
		} else if !s.recvArmed {
			w.armRecv(s, r.idx)
		}
	}
	list = list[:0]
	if w.blocked == nil {
		w.blocked = list
	}
}

// opError wraps errno as Go's net package would, so errors.Is matches the
// errno and callers see the operation and the addresses.
func opError(op string, s *connSlot, errno syscall.Errno) error {
	return &net.OpError{Op: op, Net: netName(s), Addr: s.remote, Err: os.NewSyscallError(sysName(op), errno)}
}

func netName(s *connSlot) string {
	if s.unix {
		return "unix"
	}
	return "tcp"
}

func sysName(op string) string {
	switch op {
	case "read":
		return "recv"
	case "write":
		return "sendmsg"
	}
	return op
}
