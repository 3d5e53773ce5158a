//go:build linux && !cgo

package ringline

func builtBackends() []backendCase {
	return []backendCase{{name: "epoll", cfg: Config{Backend: BackendEpoll}}}
}
