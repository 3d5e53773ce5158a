//go:build linux

package rio

import (
	"crypto/tls"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ringline-go/ringline/internal/backend"
)

// Accepting: one multishot accept per worker on its own listener. Each
// completion is a new connection; past Config.MaxConns it is reset at once
// and counted, and accepting goes on.

// armListener arms the listener's multishot operation: accept, or a UDP
// socket's recvmsg.
func (w *Worker) armListener() {
	if w.srv.ep.network == "udp" {
		w.armDgram()
		return
	}
	w.armAccept()
}

// armAccept arms the worker's multishot accept.
func (w *Worker) armAccept() {
	if err := w.be.Accept(w.listenFd, userData(opAccept, 0, 0)); err != nil {
		w.logError("accept", err)
		w.acceptErr = true // try again next iteration
		return
	}
	w.accepting = true
}

// onAccept takes in one accepted connection, or handles the end of the
// multishot accept.
func (w *Worker) onAccept(c *backend.Completion) {
	if c.Flags&backend.FlagMore == 0 {
		w.accepting = false
	}
	switch {
	case c.Res >= 0:
		w.accepted(int(c.Res))
	case c.Res != -int32(syscall.ECANCELED):
		w.stats.acceptErrors.Add(1)
		w.logError("accept", syscall.Errno(-c.Res))
	}
	switch {
	case w.accepting:
	case w.acceptStopped():
		w.closeListenFd()
	case outOfResources(c.Res):
		// The pending connection stays in the backlog, so accepting again at
		// once would fail again at once: wait a little first.
		if _, err := w.AfterFunc(acceptBackoff, w.rearmAccept); err != nil {
			w.acceptErr = true
		}
	case c.Res < 0:
		w.acceptErr = true // re-armed at the end of the iteration, not in a tight loop
	default:
		w.armAccept()
	}
}

// acceptBackoff is how long accepting pauses after running out of
// descriptors or memory.
const acceptBackoff = 10 * time.Millisecond

// outOfResources reports an accept result that says the process or the
// system has no descriptor or memory to spare for the connection.
func outOfResources(res int32) bool {
	switch syscall.Errno(-res) {
	case syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM:
		return res < 0
	}
	return false
}

// rearmAccept resumes accepting after a backoff, unless the worker has
// stopped accepting or is accepting already.
func (w *Worker) rearmAccept() {
	if !w.acceptStopped() && !w.accepting && w.listenFd >= 0 {
		w.armListener()
	}
}

// acceptStopped reports that the worker accepts no more: StopAccepting,
// Shutdown or Close was acted on.
func (w *Worker) acceptStopped() bool { return w.stopLevel >= stopAccept }

// accepted gives descriptor fd a slot and opens it, or closes it at the limit.
func (w *Worker) accepted(fd int) {
	if w.acceptStopped() {
		unix.Close(fd)
		return
	}
	idx, s, ok := w.takeSlot(fd, w.srv.ep.family == unix.AF_UNIX, connOpen)
	if !ok {
		// Reset, so the peer learns at once that it was refused rather
		// than taking the close for the end of a served connection.
		lingerZero(fd)
		unix.Close(fd)
		w.stats.rejected.Add(1)
		return
	}
	w.stats.accepted.Add(1)
	if sa, err := unix.Getpeername(fd); err == nil {
		s.remote = sockaddrToAddr(sa) // errors name the peer even after a reset
	}
	if w.cfg.TLS != nil {
		w.newTLS(s, idx, func(p *tlsPipe) *tls.Conn { return tls.Server(p, w.cfg.TLS) })
		w.beginHandshake(s, idx)
		return
	}
	w.open(s, idx)
}

// closeListener stops accepting: the multishot accept is cancelled and the
// listener closed once it has ended.
func (w *Worker) closeListener() {
	switch {
	case w.listenFd < 0:
	case w.accepting && w.srv.ep.network == "udp":
		w.cancel(userData(opDgram, 0, 0))
	case w.accepting:
		w.cancel(userData(opAccept, 0, 0))
	default:
		w.closeListenFd()
	}
}

func (w *Worker) closeListenFd() {
	if w.listenFd < 0 {
		return
	}
	// A UDP socket may have datagrams queued to it: its close goes through
	// the backend, after them.
	if w.srv.ep.network != "udp" || w.be == nil || w.be.CloseFd(w.listenFd, userData(opClose, 0, 0)) != nil {
		unix.Close(w.listenFd)
	}
	w.listenFd = -1
}
