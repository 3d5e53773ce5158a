package rio

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"runtime"
	"time"
)

// Config is the runtime's configuration. The zero value is usable: every
// field left zero takes the default named in its comment. Validate reports
// the first field out of range, by name.
type Config struct {
	// Backend picks the I/O engine: BackendAuto (the default) uses io_uring
	// when this binary has it and the kernel allows a ring, else epoll, and
	// logs why; BackendIOUring fails where io_uring cannot run, saying why;
	// BackendEpoll is the pure-Go engine.
	Backend Backend
	// Workers is the number of worker threads, each with its own ring and
	// listener. Default: the CPUs this process may run on (runtime.NumCPU).
	Workers int
	// Pin binds worker i to the i-th CPU this process may run on
	// (sched_setaffinity). Default: off.
	Pin bool
	// SQEntries is each ring's submission queue size, a power of two up to
	// 16384. Default 1024.
	SQEntries int
	// SQPoll starts a kernel thread per ring that polls the submission queue,
	// saving the submit syscall at the cost of a busy CPU. Default: off.
	SQPoll bool
	// TickInterval is the longest a worker sleeps: OnTick runs at least this
	// often. Default 100ms.
	TickInterval time.Duration
	// BufEntries is the number of receive buffers per worker, a power of two
	// up to 32768. Default 512.
	BufEntries int
	// BufSize is the size of each receive buffer. Default 16 KiB.
	BufSize int
	// SendSlots is the number of send-pool slots per worker. Default 1024.
	SendSlots int
	// SendSlotSize is the size of each send-pool slot; a message larger than
	// one slot takes several. Default 16 KiB.
	SendSlotSize int
	// SendBudget is the most bytes one connection may have queued and not
	// yet sent, so that a peer that stops reading cannot take the whole send
	// pool: past it Send and SendSome refuse with ErrSendBudgetExhausted and,
	// called from OnData, pause the connection's receive until its own sends
	// complete. It also bounds what one OnData call is offered at first, so
	// a handler that sends each chunk whole can always send it. A value
	// larger than the pool acts as the pool's size. Default: a sixteenth of
	// the pool (SendSlots × SendSlotSize), at least 256 KiB but at most half
	// the pool; 1 MiB with the default pool.
	SendBudget int
	// MaxConns is the most connections one worker holds; past it a new
	// connection is reset at once and counted. Memory for connections is
	// taken as they arrive, in chunks, so an unused capacity costs nothing.
	// Default 65536, lowered to each worker's share of what RLIMIT_NOFILE's
	// hard limit allows; set explicitly, a hard limit too low for it fails
	// the start.
	MaxConns int
	// AccInitial is the initial capacity of a connection's receive
	// accumulator, allocated the first time a handler leaves bytes
	// unconsumed. Default 4 KiB, or AccCap if that is smaller.
	AccInitial int
	// AccCap is the most unconsumed bytes a connection may hold; past it the
	// connection is reset with ErrRecvBufferFull. Default 1 MiB. Input the
	// kernel had already received when a refused send paused the connection
	// is kept beyond it (the receive buffers bound that).
	AccCap int
	// TimerSlots is the number of timers each worker can have pending.
	// Default 1024.
	TimerSlots int
	// DgramEntries is the number of datagram receive buffers per worker of a
	// ListenUDP server, a power of two up to 32768. Default 512.
	DgramEntries int
	// DgramSize is the largest datagram payload a UDP worker receives whole
	// and sends; a larger one received is reported as truncated, a larger
	// one sent is refused. Default 2048, at most 65507.
	DgramSize int
	// UDPGRO turns on UDP generic receive offload on a ListenUDP server's
	// sockets: the kernel may hand over several datagrams of one sender as
	// one buffer, which the worker splits back into the original datagrams
	// before OnDatagram sees them. Each receive buffer then holds 64 KiB of
	// payload, whatever DgramSize says. Default: off.
	UDPGRO bool
	// DgramSendSlots is the number of datagrams a UDP worker may have
	// queued and unsent; past it SendTo fails with ErrSendPoolExhausted.
	// Default 512.
	DgramSendSlots int
	// FileOps is the most file operations (open, read, write, sync, stat,
	// close, rename, remove, mkdir, NVMe commands) one worker has in flight;
	// past it a worker's file methods fail with ErrFileOpsExhausted, and a
	// File's calls wait for room. Default 256.
	FileOps int
	// FileThreads is, on the epoll backend, the threads per worker that run
	// file operations (epoll cannot wait for a regular file). Default 4.
	FileThreads int
	// PostQueue is the number of functions other goroutines may have queued
	// for one worker (Server.Run). Default 1024.
	PostQueue int
	// Backlog is the listen backlog. Default 1024.
	Backlog int
	// Nagle leaves Nagle's algorithm on. Default: off, that is TCP_NODELAY
	// is set on every TCP connection, as Go's net package does.
	Nagle bool
	// CloseLinger bounds a graceful close: after its queued sends drain and
	// its FIN is sent, a connection waits this long for the peer's FIN before
	// it is closed anyway. Default 5s.
	CloseLinger time.Duration
	// TLS, when set, makes every accepted connection a TLS server
	// connection with this configuration, which must offer a certificate
	// (Certificates, GetCertificate or GetConfigForClient): the handshake
	// runs on a goroutine of its own, never on the worker, and OnOpen runs
	// when it succeeded; OnData then sees plaintext, Send encrypts, and a
	// graceful close sends close_notify. A failed handshake closes only its
	// connection, through OnClose without OnOpen, with a *TLSError. Each
	// TLS connection holds crypto/tls's buffers (about a record, 16 KiB, each
	// way once used). Default: none, plain TCP. Worker.DialTLS is the client
	// side.
	TLS *tls.Config
	// TLSHandshakeTimeout bounds a TLS handshake; past it the connection
	// closes with a *TLSError wrapping context.DeadlineExceeded. Default 10s.
	TLSHandshakeTimeout time.Duration
	// KeepGOMAXPROCS leaves GOMAXPROCS alone. By default a server raises it
	// to at least Workers+1, even when the GOMAXPROCS environment variable
	// asked for fewer: a worker waits for completions in a system call, and
	// when no P is idle meanwhile, the Go runtime's sysmon takes the worker's
	// P at every wait and wakes a spare thread to run it, which costs several
	// context switches per wait (see BENCHMARKS.md). The extra P is a
	// scheduling slot, not a CPU: a server pinned to one CPU still uses one
	// CPU. Setting GOMAXPROCS turns off the runtime's automatic updates of it
	// (its cgroup CPU limit tracking), and a server never lowers it.
	KeepGOMAXPROCS bool
	// Logger receives the runtime's rare events: callback panics, accept
	// errors, the backend chosen. Default: none.
	Logger *slog.Logger
}

// Backend names an I/O engine.
type Backend string

// The engines Config.Backend can ask for.
const (
	BackendAuto    Backend = "auto"
	BackendIOUring Backend = "io_uring"
	BackendEpoll   Backend = "epoll"
)

// Defaults of Config's zero fields.
const (
	DefaultSQEntries      = 1024
	DefaultTickInterval   = 100 * time.Millisecond
	DefaultBufEntries     = 512
	DefaultBufSize        = 16 << 10
	DefaultSendSlots      = 1024
	DefaultSendSlotSize   = 16 << 10
	DefaultMaxConns       = 65536
	DefaultAccInitial     = 4 << 10
	DefaultAccCap         = 1 << 20
	DefaultTimerSlots     = 1024
	DefaultPostQueue      = 1024
	DefaultFileOps        = 256
	DefaultDgramEntries   = 512
	DefaultDgramSize      = 2048
	DefaultDgramSendSlots = 512
	DefaultFileThreads    = 4
	DefaultBacklog        = 1024
	DefaultCloseLinger    = 5 * time.Second

	DefaultTLSHandshakeTimeout = 10 * time.Second
)

func orDefault[T int | time.Duration](v *T, def T) {
	if *v == 0 {
		*v = def
	}
}

// withDefaults returns c with every zero field set to its default.
func (c Config) withDefaults() Config {
	if c.Backend == "" {
		c.Backend = BackendAuto
	}
	orDefault(&c.Workers, runtime.NumCPU())
	orDefault(&c.SQEntries, DefaultSQEntries)
	orDefault(&c.TickInterval, DefaultTickInterval)
	orDefault(&c.BufEntries, DefaultBufEntries)
	orDefault(&c.BufSize, DefaultBufSize)
	orDefault(&c.SendSlots, DefaultSendSlots)
	orDefault(&c.SendSlotSize, DefaultSendSlotSize)
	orDefault(&c.SendBudget, defaultSendBudget(c.SendSlots*c.SendSlotSize))
	orDefault(&c.MaxConns, DefaultMaxConns)
	orDefault(&c.AccCap, DefaultAccCap)
	orDefault(&c.AccInitial, min(DefaultAccInitial, max(c.AccCap, 1)))
	orDefault(&c.TimerSlots, DefaultTimerSlots)
	orDefault(&c.PostQueue, DefaultPostQueue)
	orDefault(&c.FileOps, DefaultFileOps)
	orDefault(&c.DgramEntries, DefaultDgramEntries)
	orDefault(&c.DgramSize, DefaultDgramSize)
	orDefault(&c.DgramSendSlots, DefaultDgramSendSlots)
	orDefault(&c.FileThreads, DefaultFileThreads)
	orDefault(&c.Backlog, DefaultBacklog)
	orDefault(&c.CloseLinger, DefaultCloseLinger)
	orDefault(&c.TLSHandshakeTimeout, DefaultTLSHandshakeTimeout)
	return c
}

// defaultSendBudget is a sixteenth of a pool of poolBytes, at least 256 KiB
// but at most half the pool, so one connection never holds it all.
func defaultSendBudget(poolBytes int) int {
	return max(1, min(poolBytes/2, max(poolBytes/16, 256<<10)))
}

// tlsPoolFits reports whether c's send pool and budget can carry TLS
// records: a slot takes a record's overhead with room to spare, and the
// budget a few records.
func tlsPoolFits(c Config) bool {
	return c.SendSlotSize >= 1024 && min(c.SendBudget, c.SendSlots*c.SendSlotSize) >= 4096
}

func pow2(n int) bool { return n > 0 && n&(n-1) == 0 }

// Validate checks every field after defaults are applied and names the first
// one out of range.
func (c Config) Validate() error {
	d := c.withDefaults()
	checks := []struct {
		ok    bool
		field string
		value any
		want  string
	}{
		{d.Backend == BackendAuto || d.Backend == BackendIOUring || d.Backend == BackendEpoll, "Backend", c.Backend, `"auto", "io_uring" or "epoll"`},
		{d.Workers >= 1 && d.Workers <= 1024, "Workers", c.Workers, "1 to 1024"},
		{pow2(d.SQEntries) && d.SQEntries <= 16384, "SQEntries", c.SQEntries, "a power of two up to 16384"},
		{d.TickInterval > 0, "TickInterval", c.TickInterval, "a positive duration"},
		{pow2(d.BufEntries) && d.BufEntries <= 32768, "BufEntries", c.BufEntries, "a power of two up to 32768"},
		{d.BufSize >= 64 && d.BufSize <= 1<<20, "BufSize", c.BufSize, "64 B to 1 MiB"},
		{d.SendSlots >= 1 && d.SendSlots <= 1<<20, "SendSlots", c.SendSlots, "1 to 1048576"},
		{d.SendSlotSize >= 64 && d.SendSlotSize <= 1<<24, "SendSlotSize", c.SendSlotSize, "64 B to 16 MiB"},
		{d.SendBudget >= 1, "SendBudget", c.SendBudget, "at least 1 byte"},
		{d.MaxConns >= 1 && d.MaxConns <= maxSlot, "MaxConns", c.MaxConns, "1 to 16777215"},
		{d.AccCap >= 1, "AccCap", c.AccCap, "at least 1"},
		{d.AccInitial >= 1 && d.AccInitial <= d.AccCap, "AccInitial", c.AccInitial, "1 to AccCap"},
		{d.TimerSlots >= 1 && d.TimerSlots <= maxSlot, "TimerSlots", c.TimerSlots, "1 to 16777215"},
		{d.PostQueue >= 1, "PostQueue", c.PostQueue, "at least 1"},
		{pow2(d.DgramEntries) && d.DgramEntries <= 32768, "DgramEntries", c.DgramEntries, "a power of two up to 32768"},
		{d.DgramSize >= 1 && d.DgramSize <= 65507, "DgramSize", c.DgramSize, "1 to 65507"},
		{d.DgramSendSlots >= 1 && d.DgramSendSlots <= 1<<20, "DgramSendSlots", c.DgramSendSlots, "1 to 1048576"},
		{d.FileOps >= 1 && d.FileOps <= 1<<16, "FileOps", c.FileOps, "1 to 65536"},
		{d.FileThreads >= 1 && d.FileThreads <= 256, "FileThreads", c.FileThreads, "1 to 256"},
		{d.Backlog >= 1, "Backlog", c.Backlog, "at least 1"},
		{d.CloseLinger > 0, "CloseLinger", c.CloseLinger, "a positive duration"},
		{d.TLS == nil || len(d.TLS.Certificates) > 0 || d.TLS.GetCertificate != nil || d.TLS.GetConfigForClient != nil,
			"TLS", "a config without a certificate", "Certificates, GetCertificate or GetConfigForClient set"},
		{d.TLS == nil || tlsPoolFits(d), "SendSlotSize", c.SendSlotSize, "with TLS, at least 1 KiB, and a send budget of at least 4 KiB"},
		{d.TLSHandshakeTimeout > 0, "TLSHandshakeTimeout", c.TLSHandshakeTimeout, "a positive duration"},
	}
	for _, k := range checks {
		if !k.ok {
			return fmt.Errorf("rio: Config.%s = %v: want %s", k.field, k.value, k.want)
		}
	}
	return nil
}
