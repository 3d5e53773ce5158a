//go:build linux && !cgo

package rio

func builtBackends() []backendCase {
	return []backendCase{{name: "epoll", cfg: Config{Backend: BackendEpoll}}}
}
