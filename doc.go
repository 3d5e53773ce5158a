// Package ringline is an async I/O runtime for Go services on Linux, built on
// io_uring through liburing, with a pure-Go epoll backend planned for builds
// without cgo or kernels without io_uring.
//
// The layers, bottom up (shared/DESIGN.md); this package holds layer 1 today:
//
//	6  cmd/ringline        echo | bench | compare | probe
//	5  adapters            net.Listener / net.Conn over a worker
//	4  public API          Config, Handler, Conn, timers, UDP, files, Stats
//	3  worker              one OS thread, one ring: connections, pools, dispatch
//	2  backend             "queue operations, hand back completions" (io_uring | epoll)
//	1  binding             Ring, UserData, NvmeUringCmd, Arena, BufRing  <- here
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
