//go:build linux

package main

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
)

// compareRow is one server's line in the table: its median run, the spread
// over its runs, and its ratios to the net baseline.
type compareRow struct {
	Server         string        `json:"server"`
	Banner         string        `json:"banner"`
	Median         benchResult   `json:"median"`
	Runs           []benchResult `json:"runs"`
	MinOpsPerCPU   float64       `json:"min_ops_per_server_cpu_second"`
	MaxOpsPerCPU   float64       `json:"max_ops_per_server_cpu_second"`
	OpsRatio       float64       `json:"ops_ratio_to_net"`         // 0 without a net row
	OpsPerCPURatio float64       `json:"ops_per_cpu_ratio_to_net"` // the headline
	Errors         uint64        `json:"errors"`
}

// summarize picks each server's median run by ops per server CPU-second
// (the headline: on two cores the client saturates before the server) and
// computes the ratios to Go's net server.
func (c *comparison) summarize() []compareRow {
	var rows []compareRow
	for _, p := range c.servers {
		runs := append([]benchResult(nil), p.runs...)
		sort.Slice(runs, func(i, j int) bool { return runs[i].OpsPerServerCPUSecond < runs[j].OpsPerServerCPUSecond })
		row := compareRow{Server: p.name, Banner: p.banner, Runs: p.runs, Median: runs[len(runs)/2],
			MinOpsPerCPU: runs[0].OpsPerServerCPUSecond, MaxOpsPerCPU: runs[len(runs)-1].OpsPerServerCPUSecond}
		for _, r := range p.runs {
			row.Errors += r.Errors
		}
		rows = append(rows, row)
	}
	for _, base := range rows {
		if base.Server != "net" {
			continue
		}
		for i := range rows {
			if b := base.Median.OpsPerSec; b > 0 {
				rows[i].OpsRatio = rows[i].Median.OpsPerSec / b
			}
			if b := base.Median.OpsPerServerCPUSecond; b > 0 {
				rows[i].OpsPerCPURatio = rows[i].Median.OpsPerServerCPUSecond / b
			}
		}
	}
	return rows
}

// setup describes the load and the placement, for every output.
func (c *comparison) setup() string {
	f := c.f
	place := "not pinned (fewer than 2 CPUs)"
	if len(c.serverCPUs) > 0 {
		place = fmt.Sprintf("servers on CPU %v, clients on CPUs %v", c.serverCPUs, c.clientCPUs)
	}
	load, client := "conns", f.client
	if f.udp {
		load, client = "UDP sockets", "bench --udp (Go net, every reply checked; an op is a datagram echoed)"
	}
	return fmt.Sprintf("%d %s x %d B x %d in flight, %v after %v warm-up, %d interleaved runs (median shown), client %s; %s",
		f.conns, load, f.size, f.pipeline, f.duration, f.warmup, f.runs, client, place)
}

func ratio(r float64) string {
	if r == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fx", r)
}

// cells are a row's columns, shared by the text and Markdown tables.
func (r compareRow) cells() []string {
	m := r.Median
	return []string{r.Server, fmt.Sprintf("%.0f", m.OpsPerSec), fmt.Sprintf("%.0f", m.P50us), fmt.Sprintf("%.0f", m.P99us),
		fmt.Sprintf("%.2f", m.ServerCPUSeconds), fmt.Sprintf("%.0f", m.OpsPerServerCPUSecond),
		fmt.Sprintf("%.0f-%.0f", r.MinOpsPerCPU, r.MaxOpsPerCPU), ratio(r.OpsRatio), ratio(r.OpsPerCPURatio), fmt.Sprint(r.Errors)}
}

var compareHeader = []string{"server", "ops/s", "p50 us", "p99 us", "server CPU s", "ops/server CPU s",
	"ops/CPU s spread", "ops/s vs net", "ops/CPU s vs net", "errors"}

func writeCompareText(w io.Writer, c *comparison, rows []compareRow) {
	fmt.Fprintln(w, c.setup())
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, strings.Join(compareHeader, "\t")+"\t")
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r.cells(), "\t")+"\t")
	}
	tw.Flush()
	for _, s := range c.skipped {
		fmt.Fprintf(w, "%s: unavailable here: %s\n", s.Server, s.Reason)
	}
}

func writeCompareMarkdown(w io.Writer, c *comparison, rows []compareRow) {
	fmt.Fprintf(w, "%s\n\n", c.setup())
	fmt.Fprintf(w, "| %s |\n|%s\n", strings.Join(compareHeader, " | "), strings.Repeat("---|", len(compareHeader)))
	for _, r := range rows {
		fmt.Fprintf(w, "| %s |\n", strings.Join(r.cells(), " | "))
	}
	for _, s := range c.skipped {
		fmt.Fprintf(w, "\n%s: unavailable here: %s\n", s.Server, s.Reason)
	}
}

func writeCompareJSON(w io.Writer, c *comparison, rows []compareRow) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(struct {
		Setup   string          `json:"setup"`
		Rows    []compareRow    `json:"rows"`
		Skipped []skippedServer `json:"skipped"`
	}{c.setup(), rows, c.skipped})
}
