//go:build linux && !cgo

package ringline

// probeIOUring gives the honest answer of a binary built without cgo: it has
// no io_uring binding, so nothing of io_uring is probed.
func probeIOUring(rep *ProbeReport) {
	rep.IOUringError = "built without cgo: no io_uring binding in this binary"
	rep.Liburing = "none (built without cgo)"
}
