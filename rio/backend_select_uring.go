//go:build linux && cgo

package rio

import (
	"github.com/ringline-go/ringline/internal/backend"
	"github.com/ringline-go/ringline/internal/uring"
)

// uringSupport reports whether a worker's ring can be set up here (see
// uring.Check) and gives the engine's constructor.
func uringSupport(cfg Config) (newBackendFunc, error) {
	return uring.New, uring.Check(backend.Config{Entries: cfg.SQEntries, SQPoll: cfg.SQPoll})
}
