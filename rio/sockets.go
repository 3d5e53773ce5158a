//go:build linux

package rio

import (
	"fmt"
	"net"
	"net/netip"
	"os"

	"golang.org/x/sys/unix"
)

// Socket set-up with plain system calls, shared by every backend: listeners,
// outbound sockets, addresses.

// endpoint is a parsed network address.
type endpoint struct {
	network string // "tcp", "udp" or "unix"
	family  int
	sa      unix.Sockaddr
}

// parseEndpoint turns network and address into a socket address. Host names
// are refused: a worker must never block on DNS, so resolve them first.
func parseEndpoint(network, address string) (endpoint, error) {
	switch network {
	case "unix":
		if address == "" {
			return endpoint{}, fmt.Errorf("rio: unix socket: empty path")
		}
		return endpoint{"unix", unix.AF_UNIX, &unix.SockaddrUnix{Name: address}}, nil
	case "tcp", "tcp4", "tcp6", "udp", "udp4", "udp6":
		return parseInetEndpoint(network, address)
	}
	return endpoint{}, fmt.Errorf("rio: network %q: want tcp, tcp4, tcp6, udp, udp4, udp6 or unix", network)
}

// parseInetEndpoint parses a literal IP and port for network: tcp or udp,
// either family or only the one its suffix (4 or 6) names. Its errors name
// network as the caller gave it.
func parseInetEndpoint(network, address string) (endpoint, error) {
	kind, version := network[:3], network[3:]
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return endpoint{}, fmt.Errorf("rio: address %q: %w", address, err)
	}
	ap, err := netip.ParseAddrPort(net.JoinHostPort(wildcard(host, version), port))
	if err != nil {
		return endpoint{}, fmt.Errorf("rio: address %q: want a literal IP and a port (resolve host names first): %w", address, err)
	}
	ip := ap.Addr()
	if ip.Is4() || ip.Is4In6() && version != "6" {
		if version == "6" {
			return endpoint{}, fmt.Errorf("rio: address %q is IPv4, network %s", address, network)
		}
		return endpoint{kind, unix.AF_INET, &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ip.Unmap().As4()}}, nil
	}
	if version == "4" {
		return endpoint{}, fmt.Errorf("rio: address %q is IPv6, network %s", address, network)
	}
	zone := uint32(0)
	if z := ip.Zone(); z != "" {
		ifi, err := net.InterfaceByName(z)
		if err != nil {
			return endpoint{}, fmt.Errorf("rio: address %q: zone: %w", address, err)
		}
		zone = uint32(ifi.Index)
	}
	return endpoint{kind, unix.AF_INET6, &unix.SockaddrInet6{Port: int(ap.Port()), Addr: ip.As16(), ZoneId: zone}}, nil
}

// wildcard fills an empty host with the any-address of the IP version
// ("4", "6", or "" for both).
func wildcard(host, version string) string {
	switch {
	case host != "":
		return host
	case version == "4":
		return "0.0.0.0"
	}
	return "::"
}

// newSocket opens a non-blocking, close-on-exec stream socket.
func newSocket(family int) (int, error) {
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, os.NewSyscallError("socket", err)
	}
	return fd, nil
}

// listen opens one listener on ep. TCP listeners set SO_REUSEPORT, so each
// worker can own one on the same port and the kernel spreads connections
// among them, and TCP_NODELAY, which accepted sockets inherit.
func listen(ep endpoint, backlog int, nagle bool) (int, error) {
	fd, err := newSocket(ep.family)
	if err != nil {
		return -1, err
	}
	if err := setupListener(fd, ep, backlog, nagle); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

func setupListener(fd int, ep endpoint, backlog int, nagle bool) error {
	if ep.family != unix.AF_UNIX {
		for _, o := range [][2]int{{unix.SOL_SOCKET, unix.SO_REUSEADDR}, {unix.SOL_SOCKET, unix.SO_REUSEPORT}} {
			if err := unix.SetsockoptInt(fd, o[0], o[1], 1); err != nil {
				return os.NewSyscallError("setsockopt", err)
			}
		}
		if err := setNoDelay(fd, nagle); err != nil {
			return err
		}
	}
	if ep.family == unix.AF_INET6 {
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 0); err != nil {
			return os.NewSyscallError("setsockopt", err)
		}
	}
	if err := unix.Bind(fd, ep.sa); err != nil {
		return &net.OpError{Op: "listen", Net: ep.network, Addr: sockaddrToAddr(ep.sa), Err: os.NewSyscallError("bind", err)}
	}
	if err := unix.Listen(fd, backlog); err != nil {
		return os.NewSyscallError("listen", err)
	}
	return nil
}

func setNoDelay(fd int, nagle bool) error {
	if nagle {
		return nil
	}
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1); err != nil {
		return os.NewSyscallError("setsockopt TCP_NODELAY", err)
	}
	return nil
}

// sockaddrToAddr converts a socket address to the net package's form.
func sockaddrToAddr(sa unix.Sockaddr) net.Addr {
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return &net.TCPAddr{IP: net.IP(sa.Addr[:]).To16(), Port: sa.Port}
	case *unix.SockaddrInet6:
		a := &net.TCPAddr{IP: net.IP(sa.Addr[:]), Port: sa.Port}
		if sa.ZoneId != 0 {
			if ifi, err := net.InterfaceByIndex(int(sa.ZoneId)); err == nil {
				a.Zone = ifi.Name
			}
		}
		return a
	case *unix.SockaddrUnix:
		return &net.UnixAddr{Name: sa.Name, Net: "unix"}
	}
	return nil
}
