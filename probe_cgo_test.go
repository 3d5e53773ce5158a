//go:build linux && cgo

package ringline

// bindingBuilt: this test binary has the io_uring binding.
const bindingBuilt = true
