//go:build linux && cgo && !liburing_dynamic

package ringline

// liburing is linked statically by default, so a built binary needs no
// liburing at run time. Build with -tags liburing_dynamic to link liburing.so.

// #cgo LDFLAGS: -Wl,-Bstatic -luring -Wl,-Bdynamic
import "C"
