//go:build linux && !cgo

package ringline

func builtBackends() []backendCase { return nil }

func backendUsable(backendCase) error { return nil }
