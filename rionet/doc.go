// Package rionet is the adapter layer: a net.Listener and a Dialer whose
// net.Conn connections rio workers serve, so code written against net.Conn
// (crypto/tls, net/http, gRPC) runs on io_uring or the epoll engine.
//
// How goroutines and workers meet: a worker takes each connection's input
// off the socket and appends it to the Conn's inbound buffer (a copy out
// of the receive buffer), waking a waiting Read through a one-token
// channel; past 256 KiB buffered it holds the connection's receive
// (rio.Conn.HoldReceive), so TCP pushes back on the peer, and a Read that
// drains it below 64 KiB resumes it. A Write of up to 256 KiB is copied
// into the Conn's outbound buffer and returns; the worker, woken once per
// burst (rio.Server.Run), copies the buffer into its send pool as far as
// the pool and the connection's budget take (Conn.SendSome), and goes on
// when the connection's own sends complete (OnSent) or, when the pool is
// full of other connections' bytes, when a send completes or a connection
// closes on that worker, which keeps a list of such Conns. A larger Write
// lends its slice to the worker (Conn.SendBorrowed, which pins it) and returns
// once the kernel has sent it. The peer's FIN ends the input (rio.PeerEOFHandler):
// Read returns io.EOF while Write goes on, as on a net.TCPConn, until
// Close or CloseWrite. Deadlines are timers on the goroutines' side; Close
// wakes everything waiting.
//
// A Listener's Close stops accepting only (rio.Server.StopAccepting) and
// resets the connections no Accept took; it counts the Conns its workers
// opened and ends the workers once the last one has closed, so
// http.Server.Shutdown lets the responses in flight finish.
package rionet
