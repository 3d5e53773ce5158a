//go:build linux && cgo && liburing_dynamic

package ringline

// Built with -tags liburing_dynamic: link the distribution's liburing.so.

// #cgo LDFLAGS: -luring
import "C"
