//go:build linux

package rio

import (
	"expvar"
	"sync/atomic"
)

// workerCounters are a worker's counters: written by the worker with atomic
// adds, read by Stats from any goroutine.
type workerCounters struct {
	accepted, dialed, rejected, closed         atomic.Uint64
	bytesIn, bytesOut, cqes, enobufs           atomic.Uint64
	sendPoolExhausted, pollOutWaits            atomic.Uint64
	sendBudgetExhausted, forwarded, resets     atomic.Uint64
	callbackPanics, unknownTags                atomic.Uint64
	staleCompletions, acceptErrors, waitErrors atomic.Uint64
	timersFired, sqFull, loops                 atomic.Uint64
	fileOps, fileOpsExhausted                  atomic.Uint64
	dgramsIn, dgramsOut, dgramTruncated        atomic.Uint64
	dgramSendRefused, dgramSendErrors          atomic.Uint64
	dgramNoBufs, dgramCoalesced, dgramGSO      atomic.Uint64
	tlsHandshakes, tlsFailures                 atomic.Uint64
	conns                                      atomic.Int64 // published each iteration
}

// WorkerStats is a snapshot of one worker's counters, all since start.
type WorkerStats struct {
	Worker              int    // the worker's index
	Conns               int    // connections held, as of the worker's last loop iteration
	Accepted            uint64 // connections accepted and opened
	Dialed              uint64 // outbound connects started
	Rejected            uint64 // connections refused at Config.MaxConns
	Closed              uint64 // connections closed (OnClose ran)
	BytesIn             uint64 // bytes received
	BytesOut            uint64 // bytes sent
	CQEs                uint64 // completions handled
	ENOBUFS             uint64 // receives that found the buffer pool empty (re-armed)
	SendPoolExhausted   uint64 // Sends refused with ErrSendPoolExhausted
	SendBudgetExhausted uint64 // Sends refused with ErrSendBudgetExhausted
	Forwarded           uint64 // bytes sent straight from receive buffers (Conn.Forward)
	Resets              uint64 // connections closed with a reset because data was dropped
	SQFull              uint64 // submissions refused because the queue stayed full
	PollOutWaits        uint64 // sends that waited for POLLOUT after EAGAIN
	CallbackPanics      uint64 // handler callbacks that panicked
	UnknownTags         uint64 // completions with a tag the worker does not issue
	StaleCompletions    uint64 // completions for a slot reused since (dropped)
	AcceptErrors        uint64 // accept completions with an error
	WaitErrors          uint64 // failed submit-and-wait calls
	TimersFired         uint64 // timer functions run
	Loops               uint64 // loop iterations (one submit-and-wait each)
	FileOps             uint64 // file operations completed
	FileOpsExhausted    uint64 // file operations refused with ErrFileOpsExhausted
	DatagramsIn         uint64 // datagrams delivered to OnDatagram
	DatagramsOut        uint64 // datagrams sent
	DatagramsTruncated  uint64 // datagrams larger than Config.DgramSize, reported and not delivered
	DatagramSendRefused uint64 // SendTo calls refused: the send pool full or the datagram too large
	DatagramSendErrors  uint64 // datagram sends that failed in the kernel
	DatagramNoBuffers   uint64 // datagram receives that found the pool empty (re-armed)
	DatagramsCoalesced  uint64 // receives that held several datagrams (UDP_GRO), split before delivery
	DatagramGSOSends    uint64 // sends of several datagrams in one call (SendToSegments)
	TLSHandshakes       uint64 // TLS handshakes that succeeded (Config.TLS, DialTLS)
	TLSFailures         uint64 // TLS connections closed by a TLS error (TLSError)
}

// Stats is a snapshot of a server's counters.
type Stats struct {
	Backend string        // "io_uring" or "epoll"
	Workers []WorkerStats // one per worker
}

// Total sums the workers' counters (Worker is -1).
func (s Stats) Total() WorkerStats {
	t := WorkerStats{Worker: -1}
	for _, w := range s.Workers {
		t.Conns += w.Conns
		t.Accepted += w.Accepted
		t.Dialed += w.Dialed
		t.Rejected += w.Rejected
		t.Closed += w.Closed
		t.BytesIn += w.BytesIn
		t.BytesOut += w.BytesOut
		t.CQEs += w.CQEs
		t.ENOBUFS += w.ENOBUFS
		t.SendPoolExhausted += w.SendPoolExhausted
		t.SendBudgetExhausted += w.SendBudgetExhausted
		t.Forwarded += w.Forwarded
		t.Resets += w.Resets
		t.SQFull += w.SQFull
		t.PollOutWaits += w.PollOutWaits
		t.CallbackPanics += w.CallbackPanics
		t.UnknownTags += w.UnknownTags
		t.StaleCompletions += w.StaleCompletions
		t.AcceptErrors += w.AcceptErrors
		t.WaitErrors += w.WaitErrors
		t.TimersFired += w.TimersFired
		t.Loops += w.Loops
		t.FileOps += w.FileOps
		t.FileOpsExhausted += w.FileOpsExhausted
		t.DatagramsIn += w.DatagramsIn
		t.DatagramsOut += w.DatagramsOut
		t.DatagramsTruncated += w.DatagramsTruncated
		t.DatagramSendRefused += w.DatagramSendRefused
		t.DatagramSendErrors += w.DatagramSendErrors
		t.DatagramNoBuffers += w.DatagramNoBuffers
		t.DatagramsCoalesced += w.DatagramsCoalesced
		t.DatagramGSOSends += w.DatagramGSOSends
		t.TLSHandshakes += w.TLSHandshakes
		t.TLSFailures += w.TLSFailures
	}
	return t
}

// snapshot reads the worker's counters.
func (w *Worker) snapshot() WorkerStats {
	c := &w.stats
	return WorkerStats{
		Worker: w.id, Conns: int(c.conns.Load()),
		Accepted: c.accepted.Load(), Dialed: c.dialed.Load(), Rejected: c.rejected.Load(),
		Closed: c.closed.Load(), BytesIn: c.bytesIn.Load(), BytesOut: c.bytesOut.Load(),
		CQEs: c.cqes.Load(), ENOBUFS: c.enobufs.Load(), SendPoolExhausted: c.sendPoolExhausted.Load(),
		SQFull: c.sqFull.Load(), PollOutWaits: c.pollOutWaits.Load(), CallbackPanics: c.callbackPanics.Load(),
		UnknownTags: c.unknownTags.Load(), StaleCompletions: c.staleCompletions.Load(),
		AcceptErrors: c.acceptErrors.Load(), WaitErrors: c.waitErrors.Load(), TimersFired: c.timersFired.Load(),
		Loops: c.loops.Load(), SendBudgetExhausted: c.sendBudgetExhausted.Load(),
		Forwarded: c.forwarded.Load(), Resets: c.resets.Load(),
		FileOps: c.fileOps.Load(), FileOpsExhausted: c.fileOpsExhausted.Load(),
		DatagramsIn: c.dgramsIn.Load(), DatagramsOut: c.dgramsOut.Load(), DatagramsTruncated: c.dgramTruncated.Load(),
		DatagramSendRefused: c.dgramSendRefused.Load(), DatagramSendErrors: c.dgramSendErrors.Load(),
		DatagramNoBuffers: c.dgramNoBufs.Load(), DatagramsCoalesced: c.dgramCoalesced.Load(), DatagramGSOSends: c.dgramGSO.Load(),
		TLSHandshakes: c.tlsHandshakes.Load(), TLSFailures: c.tlsFailures.Load(),
	}
}

// Expvar returns the server's stats as an expvar.Var, for
// expvar.Publish("ringline", srv.Expvar()).
func (s *Server) Expvar() expvar.Var {
	return expvar.Func(func() any { return s.Stats() })
}
