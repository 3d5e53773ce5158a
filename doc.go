// Package ringline is a cgo binding over liburing (io_uring): the bottom
// layer of ringline for Go. It holds the Ring and what the kernel shares
// with it (Arena, BufRing), the UserData encoding, the NVMe passthrough
// command and the probe of kernel features. It is mechanism only: it knows
// nothing of connections, workers or backends. The runtime built on it is
// package rio (github.com/ringline-go/ringline/rio).
//
// The layers, bottom up, one package each:
//
//	ringline            the binding (this package): Ring, Arena, BufRing, UserData, NvmeUringCmd, Probe
//	internal/backend    the contract between a worker and its engine: "queue these, give me completions"
//	internal/uring      the io_uring engine, over this package
//	internal/epoll      the pure-Go epoll engine
//	rio                 the runtime: workers, Listen, Conn, Handler, timers, Stats
//	cmd/ringline        echo | bench | compare | idle | probe
//
// # One crossing per loop iteration
//
// A Ring is one io_uring set up with 128-byte SQEs and 32-byte CQEs,
// SINGLE_ISSUER and DEFER_TASKRUN. Its Submit* methods do not cross into C:
// they append compact descriptors to a batch held in C memory. One call of
// Submit, Flush, SubmitAndWait or SubmitAndWaitTimeout crosses once: the C
// shim preps every descriptor with liburing's io_uring_prep_* helpers (one
// small function per descriptor kind, in a table), makes the liburing call
// Go chose (submit, submit and get events, wait, wait with a timeout) and
// copies completions into C memory that Go reads as []Completion:
//
//	queue (Submit*, pure Go) -> enter (one crossing: prep, submit, wait, reap) -> dispatch (pure Go)
//
// Every submission carries a UserData, tag | index | payload, an integer:
// no Go pointer is stored in user_data or kept by C. Helpers that name a
// connection by its fixed-file slot build their user_data themselves; every
// other helper takes the caller's and hands it back untouched. Memory the
// kernel may touch after a call returns lives outside the Go heap: an Arena
// for buffers, msghdrs, sockaddrs, timespecs, statx buffers and paths, a
// BufRing for provided receive buffers. Each has an explicit Close.
//
// Errors carry the errno for errors.Is and say what to do where that helps;
// the sentinel errors are in errors.go (ErrArenaFull beside Arena, in
// arena_linux.go). Completion.Err gives a completion's errno without
// allocating.
package ringline
