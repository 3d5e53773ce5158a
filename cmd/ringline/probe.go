//go:build linux

package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"

	"golang.org/x/sys/unix"

	"github.com/ringline-go/ringline"
	"github.com/ringline-go/ringline/rio"
)

// probeHint follows a usage error.
const probeHint = `run "ringline probe -h" for the flags`

// probeReport is what `ringline probe` prints: the binding's report on the
// kernel (ringline.Probe) and the runtime's choice on this machine
// (rio.Probe), flattened into one JSON object.
type probeReport struct {
	kernelReport
	runtimeReport
}

type (
	kernelReport  = ringline.ProbeReport
	runtimeReport = rio.ProbeReport
)

// runProbe reports what this kernel and this build support: as text, or as
// JSON with --json. The report is the result, so a machine without io_uring
// still exits 0; only bad usage (2) or a failed write (1) does not.
func runProbe(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ringline probe", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print the report as JSON")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, probeHint)
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "ringline probe: unexpected argument %q\n%s\n", fs.Arg(0), probeHint)
		return 2
	}
	rep := probeReport{ringline.Probe(), rio.Probe()}
	var err error
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(rep)
	} else {
		err = writeProbeText(stdout, rep)
	}
	if err != nil {
		fmt.Fprintf(stderr, "ringline probe: writing the report: %v\n", err)
		return 1
	}
	return 0
}

// writeProbeText prints the report for a reader: the summary, then one row
// per feature.
func writeProbeText(w io.Writer, rep probeReport) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	uring := "yes: a ring with the runtime's setup flags was set up"
	if !rep.IOUring {
		uring = "no: " + rep.IOUringError
	}
	fmt.Fprintf(tw, "kernel\t%s\n", rep.Kernel)
	fmt.Fprintf(tw, "io_uring\t%s\n", uring)
	fmt.Fprintf(tw, "liburing\t%s\n", rep.Liburing)
	fmt.Fprintf(tw, "RLIMIT_NOFILE\t%s\n", fmtRlimit(rep.NOFILE, false))
	fmt.Fprintf(tw, "RLIMIT_MEMLOCK\t%s\n", fmtRlimit(rep.MEMLOCK, true))
	fmt.Fprintf(tw, "auto backend\t%s: %s\n", rep.AutoBackend, rep.AutoReason)
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(rep.Features) == 0 {
		_, err := fmt.Fprintf(w, "\nfeatures: none probed (%s)\n", rep.IOUringError)
		return err
	}
	fmt.Fprintln(w, "\nfeatures (setup flags: a ring set up with each; opcodes: the kernel's opcode probe; the rest: used for real)")
	for _, f := range rep.Features {
		yes := "no"
		if f.Supported {
			yes = "yes"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", f.Name, yes, f.Detail)
	}
	return tw.Flush()
}

// fmtRlimit shows a limit's soft and hard values, in MiB as well for bytes.
func fmtRlimit(l rio.Rlimit, bytes bool) string {
	if l.Error != "" {
		return "unknown: " + l.Error
	}
	one := func(v uint64) string {
		switch {
		case v == unix.RLIM_INFINITY:
			return "unlimited"
		case bytes:
			return fmt.Sprintf("%d bytes (%.1f MiB)", v, float64(v)/(1<<20))
		}
		return fmt.Sprint(v)
	}
	return fmt.Sprintf("soft %s, hard %s", one(l.Soft), one(l.Hard))
}
