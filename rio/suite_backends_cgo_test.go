//go:build linux && cgo

package rio

func builtBackends() []backendCase {
	return []backendCase{
		{name: "io_uring", cfg: Config{Backend: BackendIOUring}},
		{name: "epoll", cfg: Config{Backend: BackendEpoll}},
	}
}
