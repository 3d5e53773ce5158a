//go:build linux

package rio

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/ringline-go/ringline/internal/backend"
)

// UDP: each worker of a ListenUDP server owns a SO_REUSEPORT datagram
// socket on the address, with a multishot recvmsg armed into a datagram
// pool of its own; each datagram goes to the DatagramHandler straight from
// the buffer it arrived in, and replies go out of a send pool, whole.

// DatagramHandler receives a ListenUDP server's datagrams on the worker's
// thread. data is the datagram, valid only during the call (it is the
// receive buffer, which goes back to the kernel afterwards); from is its
// sender. A panic is recovered, counted and logged, and ends nothing else.
type DatagramHandler interface {
	OnDatagram(w *Worker, from netip.AddrPort, data []byte)
}

// TruncationHandler, when a DatagramHandler also implements it, hears of
// each datagram larger than Config.DgramSize: it was cut by the kernel and
// is never delivered as if whole; size is its full length.
type TruncationHandler interface {
	OnTruncated(w *Worker, from netip.AddrPort, size int)
}

// dgramHandler carries a DatagramHandler through the server's start; its
// stream callbacks are never called, as a datagram server has no
// connections.
type dgramHandler struct {
	NopHandler
	h DatagramHandler
}

// ListenUDP starts cfg.Workers workers serving datagrams on network
// ("udp", "udp4", "udp6", with a literal IP and port) at address, each
// with its own SO_REUSEPORT socket, so the kernel spreads senders among
// them. Port 0 picks a free port; Addr tells which. Cancelling ctx starts
// a graceful Shutdown: the receives stop and queued replies go out.
func ListenUDP(ctx context.Context, network, address string, cfg Config, h DatagramHandler) (*Server, error) {
	if h == nil {
		return nil, errors.New("rio: nil DatagramHandler")
	}
	ep, err := parseEndpoint(network, address)
	if err != nil {
		return nil, err
	}
	if ep.network != "udp" {
		return nil, fmt.Errorf("rio: ListenUDP: network %q: want udp, udp4 or udp6", network)
	}
	return start(ctx, &ep, cfg, dgramHandler{h: h})
}

// udpSocket opens one worker's datagram socket on ep, bound with
// SO_REUSEPORT, with UDP_GRO when gro is set.
func udpSocket(ep endpoint, gro bool) (int, error) {
	fd, err := unix.Socket(ep.family, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, os.NewSyscallError("socket", err)
	}
	// SO_REUSEPORT only: the kernel lets a socket share the port only with
	// sockets of the same user. SO_REUSEADDR on UDP would let any local
	// user bind the port too and take the datagrams.
	opts := [][3]int{{unix.SOL_SOCKET, unix.SO_REUSEPORT, 1}}
	if ep.family == unix.AF_INET6 {
		opts = append(opts, [3]int{unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 0})
	}
	if gro {
		opts = append(opts, [3]int{unix.SOL_UDP, unix.UDP_GRO, 1})
	}
	for _, o := range opts {
		if err := unix.SetsockoptInt(fd, o[0], o[1], o[2]); err != nil {
			unix.Close(fd)
			return -1, os.NewSyscallError("setsockopt", err)
		}
	}
	if err := unix.Bind(fd, ep.sa); err != nil {
		unix.Close(fd)
		return -1, &net.OpError{Op: "listen", Net: "udp", Addr: udpAddr(ep.sa), Err: os.NewSyscallError("bind", err)}
	}
	return fd, nil
}

// udpAddr is sa as a *net.UDPAddr.
func udpAddr(sa unix.Sockaddr) net.Addr {
	if a, ok := sockaddrToAddr(sa).(*net.TCPAddr); ok {
		return &net.UDPAddr{IP: a.IP, Port: a.Port, Zone: a.Zone}
	}
	return nil
}

// rawSockaddrRoom is the address room each datagram buffer reserves: a
// struct sockaddr_in6, the larger of the two families.
const rawSockaddrRoom = unix.SizeofSockaddrInet6

// groRoom is the control room a buffer reserves with UDP_GRO: one cmsg of
// an int, the segment size. groPayload is the payload room then: the most
// the kernel coalesces.
var groRoom = unix.CmsgSpace(4)

const groPayload = 65535

// dgramLayout is the room a datagram buffer of this configuration
// reserves: for control data, and for the payload.
func (c Config) dgramLayout() (control, payload int) {
	if c.UDPGRO {
		return groRoom, max(c.DgramSize, groPayload)
	}
	return 0, c.DgramSize
}

// dgramBufSize is the size of each datagram receive buffer: the header,
// the address and control rooms, the payload room.
func dgramBufSize(c Config) int {
	control, payload := c.dgramLayout()
	return backend.DgramHeader + rawSockaddrRoom + control + payload
}

// dgramRecv is a worker's datagram receive: the recvmsg template.
type dgramRecv struct {
	tmpl *unix.Msghdr // off-heap: the kernel reads it at each datagram
}

// armDgram arms the multishot recvmsg on the worker's datagram socket.
func (w *Worker) armDgram() {
	tmpl, err := w.dgramTemplate()
	if err == nil {
		err = w.be.RecvMsg(w.listenFd, tmpl, userData(opDgram, 0, 0))
	}
	if err != nil {
		w.logError("datagram receive", err)
		w.acceptErr = true // try again next iteration
		return
	}
	w.accepting = true
}

// dgramTemplate returns the recvmsg template every datagram receive of
// the worker shares (the kernel only reads its room sizes), made in the
// arena at the first call.
func (w *Worker) dgramTemplate() (*unix.Msghdr, error) {
	if w.dgram.tmpl != nil {
		return w.dgram.tmpl, nil
	}
	mem, err := w.arena.Alloc(int(unsafe.Sizeof(unix.Msghdr{})), 8)
	if err != nil {
		return nil, err
	}
	tmpl := (*unix.Msghdr)(unsafe.Pointer(&mem[0]))
	tmpl.Namelen = rawSockaddrRoom
	control, _ := w.cfg.dgramLayout()
	tmpl.SetControllen(control)
	w.dgram.tmpl = tmpl
	return tmpl, nil
}

// onDgram hands one received datagram to the handler, or handles the end
// of the multishot recvmsg (re-armed at the end of the iteration).
func (w *Worker) onDgram(c *backend.Completion) {
	if c.Flags&backend.FlagMore == 0 {
		w.accepting = false
	}
	if c.Flags&backend.FlagBuffer != 0 {
		id := uint16(c.Flags >> backend.BufferShift)
		w.deliverDgram(w.be.DgramBuffer(id)[:c.Res])
		w.be.DgramRelease(id)
	}
	switch {
	case w.accepting:
	case w.stopping:
		w.closeListenFd()
	case c.Res == -int32(syscall.ENOBUFS):
		w.stats.dgramNoBufs.Add(1)
		w.acceptErr = true // the datagrams wait in the socket; the pool is back by the next iteration
	case c.Res < 0 && c.Res != -int32(syscall.ECANCELED):
		w.stats.acceptErrors.Add(1)
		w.logError("datagram receive", syscall.Errno(-c.Res))
		// A lasting error would fail again at once: re-arm a little later.
		if _, err := w.AfterFunc(acceptBackoff, w.rearmAccept); err != nil {
			w.acceptErr = true
		}
	default:
		w.armDgram()
	}
}

// parseDgram reads one datagram buffer of this worker's layout and
// reports (and counts) a truncated datagram, which is never delivered.
func (w *Worker) parseDgram(buf []byte) (d backend.DgramOut, truncated bool, err error) {
	control, _ := w.cfg.dgramLayout()
	if d, err = backend.ParseDgram(buf, rawSockaddrRoom, control); err != nil {
		return d, false, err
	}
	if d.Flags&unix.MSG_TRUNC != 0 || d.PayloadLen > len(d.Payload) {
		w.stats.dgramTruncated.Add(1)
		return d, true, nil
	}
	return d, false, nil
}

// deliverDgram parses one datagram buffer and calls the handler.
func (w *Worker) deliverDgram(buf []byte) {
	d, truncated, err := w.parseDgram(buf)
	if err != nil {
		w.logError("datagram receive", err)
		return
	}
	from := rawToAddrPort(d.Name)
	if truncated {
		if th, ok := w.srvDgram().(TruncationHandler); ok {
			w.callFunc("OnTruncated", func() { th.OnTruncated(w, from, d.PayloadLen) })
		}
		return
	}
	seg := len(d.Payload)
	if gso := groSegment(d.Control); gso > 0 && gso < seg {
		seg = gso // several datagrams of one sender, coalesced: hand them over one by one
		w.stats.dgramCoalesced.Add(1)
	}
	if seg == 0 { // an empty datagram
		w.stats.dgramsIn.Add(1)
		w.callDatagram(from, d.Payload)
		return
	}
	for p := d.Payload; len(p) > 0; p = p[min(seg, len(p)):] {
		one := p[:min(seg, len(p))]
		w.stats.dgramsIn.Add(1)
		w.stats.bytesIn.Add(uint64(len(one)))
		w.callDatagram(from, one)
	}
}

// groSegment reads the segment size of a UDP_GRO control message: the
// length of each of the coalesced datagrams but the last. 0: none.
func groSegment(control []byte) int {
	for len(control) >= unix.SizeofCmsghdr {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&control[0]))
		if int(h.Len) < unix.SizeofCmsghdr || int(h.Len) > len(control) {
			return 0
		}
		if h.Level == unix.SOL_UDP && h.Type == unix.UDP_GRO && int(h.Len) >= unix.CmsgLen(4) {
			return int(binary.NativeEndian.Uint32(control[unix.CmsgLen(0):]))
		}
		control = control[min(unix.CmsgSpace(int(h.Len)-unix.CmsgLen(0)), len(control)):]
	}
	return 0
}

// srvDgram is the server's DatagramHandler.
func (w *Worker) srvDgram() DatagramHandler { return w.h.(dgramHandler).h }

// callDatagram runs OnDatagram; a panic is counted and logged.
func (w *Worker) callDatagram(from netip.AddrPort, data []byte) {
	defer func() {
		if v := recover(); v != nil {
			w.recovered("OnDatagram", v)
		}
	}()
	w.srvDgram().OnDatagram(w, from, data)
}

// rawToAddrPort decodes a raw struct sockaddr_in or sockaddr_in6.
func rawToAddrPort(b []byte) netip.AddrPort {
	if len(b) < 2 {
		return netip.AddrPort{}
	}
	port := func() uint16 { return binary.BigEndian.Uint16(b[2:4]) }
	switch binary.NativeEndian.Uint16(b[0:2]) {
	case unix.AF_INET:
		if len(b) >= unix.SizeofSockaddrInet4 {
			return netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[4:8])), port())
		}
	case unix.AF_INET6:
		if len(b) >= unix.SizeofSockaddrInet6 {
			return netip.AddrPortFrom(netip.AddrFrom16([16]byte(b[8:24])), port())
		}
	}
	return netip.AddrPort{}
}
