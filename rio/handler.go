package rio

// Handler receives a worker's events. Every method runs on the worker's own
// thread, one at a time, so a handler needs no locks for state kept per
// worker or per connection. Embed NopHandler to implement only some.
//
// A panic in a method is recovered, counted (WorkerStats.CallbackPanics) and
// logged; when the method concerned a connection, that connection is closed
// with an error wrapping ErrCallbackPanic. The worker lives on.
type Handler interface {
	// OnStart runs once on each worker before it serves; a client opens its
	// outbound connections here with Worker.Dial.
	OnStart(w *Worker)
	// OnOpen runs when a connection is accepted, or when a dial connected;
	// on a TLS connection (Config.TLS, Worker.DialTLS), once its handshake
	// succeeded.
	OnOpen(c Conn)
	// OnData delivers received bytes and returns how many it consumed; the
	// rest is kept and delivered again, in front of the next bytes, when more
	// arrive or, when a send made during the call was refused
	// (ErrSendPoolExhausted, ErrSendBudgetExhausted, on this connection or
	// another), once that send could succeed: meanwhile this connection's
	// receive is paused. data is at most Config.SendBudget bytes (on a TLS
	// connection, what encrypts within it), so each chunk can be sent whole; if OnData consumes none of such a chunk and
	// sends nothing refused, it is called again with up to Config.AccCap
	// bytes (a frame larger than the budget). data is valid only during the
	// call: when nothing was pending it is the kernel's receive buffer
	// itself, which Conn.Forward can send without a copy.
	OnData(c Conn, data []byte) int
	// OnSent reports that n more bytes of c's queued sends reached the kernel.
	OnSent(c Conn, n int)
	// OnClose runs exactly once per connection, including a dial that
	// failed, with the cause: io.EOF when the peer closed, a *net.OpError for
	// a reset or another error, ErrLocalClose, ErrAborted, ErrRecvBufferFull,
	// ErrServerClosed, ErrDialTimeout, a *TLSError or an error wrapping
	// ErrCallbackPanic. A TLS connection that closes before its handshake
	// succeeded (it failed, timed out, or the server closed) gets OnClose
	// without OnOpen. After it returns, the Conn is stale.
	OnClose(c Conn, err error)
	// OnTick runs once per loop iteration, and at least every
	// Config.TickInterval.
	OnTick(w *Worker)
	// OnNotify runs after a Waker of this worker fired; wakes that arrive
	// before it runs are coalesced into one call.
	OnNotify(w *Worker)
}

// PeerEOFHandler is a Handler that serves half-closed connections, as
// net.TCPConn allows: when the peer shuts its sending side (its FIN, from
// shutdown(SHUT_WR) or CloseWrite), OnPeerEOF runs instead of the
// connection closing, and the connection takes sends until the handler
// calls Conn.Close or Conn.CloseWrite. A Handler without it has the peer's
// FIN close the connection gracefully, with io.EOF.
type PeerEOFHandler interface {
	Handler
	// OnPeerEOF runs once per connection, when the peer's FIN has arrived
	// and every byte before it has been offered to OnData; what OnData
	// left unconsumed then is dropped, and no more data is delivered.
	// Sends go on. Conn.Close then ends the connection (OnClose with
	// ErrLocalClose) once the queued sends have drained and its FIN is
	// sent, without waiting Config.CloseLinger for the peer's FIN, which
	// came already; Conn.CloseWrite does the same, with io.EOF. It does not
	// run on a connection whose own side was shut first (CloseWrite): the
	// peer's FIN ends that one with io.EOF, as without this interface.
	OnPeerEOF(c Conn)
}

// NopHandler implements every Handler method as doing nothing (OnData
// consumes everything); embed it and override what you need.
type NopHandler struct{}

// OnStart does nothing.
func (NopHandler) OnStart(*Worker) {}

// OnOpen does nothing.
func (NopHandler) OnOpen(Conn) {}

// OnData discards the data.
func (NopHandler) OnData(_ Conn, data []byte) int { return len(data) }

// OnSent does nothing.
func (NopHandler) OnSent(Conn, int) {}

// OnClose does nothing.
func (NopHandler) OnClose(Conn, error) {}

// OnTick does nothing.
func (NopHandler) OnTick(*Worker) {}

// OnNotify does nothing.
func (NopHandler) OnNotify(*Worker) {}
