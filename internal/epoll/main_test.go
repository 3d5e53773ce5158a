//go:build linux

package epoll

import (
	"os"
	"testing"

	"github.com/ringline-go/ringline/internal/leakcheck"
)

// TestMain fails the run if any test leaves an io_uring descriptor or
// mapping, another descriptor, or a goroutine behind.
func TestMain(m *testing.M) { os.Exit(leakcheck.Run(m)) }
