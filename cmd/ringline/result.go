//go:build linux

package main

// benchResult is one bench run: what bench --json prints and compare reads.
type benchResult struct {
	Addr                  string   `json:"addr"`
	Client                string   `json:"client"`   // "net" or "ringline"
	Conns                 int      `json:"conns"`    // connections
	Size                  int      `json:"size"`     // bytes per request (and per echo)
	Pipeline              int      `json:"pipeline"` // requests in flight per connection
	Seconds               float64  `json:"seconds"`  // the measured window
	Ops                   uint64   `json:"ops"`      // echoes completed and checked in the window
	OpsPerSec             float64  `json:"ops_per_sec"`
	MBPerSec              float64  `json:"mb_per_sec"` // echoed payload, 10^6 bytes per second, one direction
	P50us                 float64  `json:"p50_us"`
	P90us                 float64  `json:"p90_us"`
	P99us                 float64  `json:"p99_us"`
	P999us                float64  `json:"p999_us"`
	MaxUs                 float64  `json:"max_us"`
	Errors                uint64   `json:"errors"`                    // mismatches, short reads, connection failures
	ErrorSamples          []string `json:"error_samples"`             // the first few, for the report
	ServerCPUSeconds      float64  `json:"server_cpu_seconds"`        // utime+stime of --server-pid over the window; 0 without it
	OpsPerServerCPUSecond float64  `json:"ops_per_server_cpu_second"` // 0 without --server-pid
}
