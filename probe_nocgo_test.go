//go:build linux && !cgo

package ringline

// bindingBuilt: a build without cgo has no io_uring binding.
const bindingBuilt = false
