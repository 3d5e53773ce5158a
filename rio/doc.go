// Package rio is ringline's runtime: thread-per-core workers that serve and
// dial TCP (IPv4, IPv6) and Unix stream sockets through completions, with a
// callback Handler API, generation-checked Conn handles, backpressured
// sends, timers, files (FileHandle on a worker, File for goroutines),
// O_DIRECT, NVMe passthrough, graceful shutdown and stats. It runs on io_uring (through
// the binding, package ringline) or on a pure-Go epoll engine, behind one
// contract; Config.Backend chooses, and auto takes io_uring where it can
// run.
//
//	srv, err := rio.Listen(ctx, "tcp", "127.0.0.1:7878", rio.Config{}, echo{})
//
// # The layers
//
//	cmd/ringline        echo | bench | compare | idle | probe | disk
//	rio                 this package: Listen, StartClient, Server, Worker, Conn, Handler, timers, File, Stats
//	internal/backend    the contract: a dozen queueing methods and Wait
//	internal/uring      the io_uring engine over the binding | internal/epoll, pure Go
//	ringline            the binding: Ring, Arena, BufRing, UserData, NvmeUringCmd
//
// Only backend_select*.go here names the engines; the rest of the package
// knows the contract alone.
//
// # The worker's loop
//
// Each worker is one locked OS thread with one engine. Each iteration runs
// these phases:
//
//	submit and reap   one backend Wait: queued operations in, completions out
//	dispatch          one switch on each completion's op (accept, recv, send, ...)
//	retry paused      OnData again for connections a refused send paused
//	feed starved      receives that found no buffer, once one is back
//	posted work       functions from Server.Run, then OnNotify
//	TLS handshakes    their records to send; OnOpen once one succeeded
//	issue sends       one coalesced sendmsg per connection with queued bytes
//	tick              OnTick
//
// Handler callbacks run on the worker's thread, so a worker needs no locks;
// other goroutines reach it through Server.Run's bounded queue and an
// eventfd wake. A panic in a callback closes only its connection.
package rio
