//go:build linux

// Command ringline shows the runtime at work and what it is worth:
//
//	ringline echo      an echo server (io_uring, epoll or Go's net)
//	ringline bench     a closed-loop load generator that checks every byte
//	ringline compare   echo servers side by side under the same load
//	ringline probe     what this kernel and build support, and why
//	ringline idle      the memory a server holds per idle connection
//	ringline disk      4 KiB random O_DIRECT I/O through each engine, and fio
//	ringline http      net/http on the net.Conn adapter (or Go's net)
//
// Each subcommand takes -h for its flags. Exit status: 0 success, 1 failure
// while running, 2 bad usage.
package main

import (
	"fmt"
	"io"
	"os"
)

// subcommand runs one subcommand with its arguments and returns the exit
// status; output goes to stdout, diagnostics and progress to stderr.
type subcommand func(args []string, stdout, stderr io.Writer) int

var subcommands = map[string]subcommand{
	"echo":    runEcho,
	"bench":   runBench,
	"compare": runCompare,
	"probe":   runProbe,
	"idle":    runIdle,
	"disk":    runDisk,
	"http":    runHTTP,
}

const usage = `usage: ringline <command> [flags]

commands:
  echo      run an echo server
  bench     load an echo server and report throughput and latency
  compare   run echo servers for each backend and Go's net side by side
  probe     report what this kernel and build support
  idle      hold idle connections and report the server's memory per connection
  disk      random O_DIRECT reads or writes through each engine, os.File and fio
  http      serve net/http on the runtime's workers (or Go's net)

"ringline <command> -h" lists a command's flags.
`

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// run dispatches to a subcommand.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	cmd, ok := subcommands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "ringline: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	return cmd(args[1:], stdout, stderr)
}
