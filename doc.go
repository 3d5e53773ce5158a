// Package ringline is an async I/O runtime for Go services on Linux, built on
// io_uring through liburing, with a pure-Go epoll backend for builds without
// cgo and kernels or containers without io_uring.
//
// The layers, bottom up (shared/DESIGN.md):
//
//	6  cmd/ringline        echo | bench | compare | probe
//	5  adapters            net.Listener / net.Conn over a worker (not yet)
//	4  public API          Listen, StartClient, Config, Handler, Conn, timers, Stats   (this package)
//	3  worker              one OS thread, one backend: connections, pools, dispatch  (this package)
//	2  backend             internal/backend: "queue operations, hand back completions";
//	                       backend_uring.go (io_uring) | internal/epoll (pure Go)
//	1  binding             Ring, UserData, NvmeUringCmd, Arena, BufRing              (this package)
//
// # The worker's loop
//
// Each iteration runs these phases, on the worker's locked thread:
//
//	submit and reap   one backend Wait: queued operations in, completions out
//	dispatch          one switch on each completion's tag (accept, recv, send, ...)
//	retry blocked     OnData again for connections a full send pool had paused
//	issue sends       one coalesced sendmsg per connection with queued bytes
//	posted work       functions from Server.Run, then OnNotify
//	tick              OnTick
//
// # The binding
//
// A Ring is one io_uring set up with 128-byte SQEs and 32-byte CQEs,
// SINGLE_ISSUER and DEFER_TASKRUN. Its Submit* methods do not cross into C:
// they append compact descriptors to a batch held in C memory. One call of
// Submit, Flush, SubmitAndWait or SubmitAndWaitTimeout crosses once: the C
// shim preps every descriptor with liburing's io_uring_prep_* helpers,
// submits, waits and copies completions into C memory that Go reads as
// []Completion. A worker loop therefore pays one cgo crossing per iteration:
//
//	queue (Submit*, pure Go) -> enter (one crossing: prep, submit, wait, reap) -> dispatch (pure Go)
//
// Every submission carries a UserData, tag | index | payload, an integer:
// no Go pointer is stored in user_data or kept by C. Memory the kernel may
// touch after a call returns lives outside the Go heap: an Arena for
// buffers, msghdrs, sockaddrs, timespecs, statx buffers and paths, a BufRing
// for provided receive buffers. Each has an explicit Close.
//
// Errors carry the errno for errors.Is and say what to do where that helps;
// the sentinel errors are in errors.go. Completion.Err gives a completion's
// errno without allocating.
package ringline
