//go:build linux

package rio

import (
	"encoding/binary"
	"net"
	"net/netip"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/ringline-go/ringline/internal/backend"
	"github.com/ringline-go/ringline/internal/offheap"
)

// The datagram send pool: Config.DgramSendSlots off-heap slots per worker,
// made at the first SendTo, each holding one datagram's msghdr, iovec,
// destination address and payload (up to Config.DgramSize) until its
// sendmsg completes. A datagram takes one slot or none.

// Layout of a slot: the msghdr, its one iovec, the sockaddr, room for a
// UDP_SEGMENT control message, the payload.
const (
	sendIovAt  = int(unsafe.Sizeof(unix.Msghdr{}))
	sendAddrAt = sendIovAt + int(unsafe.Sizeof(unix.Iovec{}))
	sendCtlAt  = (sendAddrAt + unix.SizeofSockaddrInet6 + 7) &^ 7
	sendDataAt = sendCtlAt + 24 // unix.CmsgSpace(2): a cmsghdr and a uint16, aligned
)

// dgramSends is a worker's datagram send pool.
type dgramSends struct {
	mem  *offheap.Arena
	area []byte
	size int // bytes per slot
	gen  []uint32
	segs []uint16 // datagrams each slot's send carries
	conn []int32  // the UDPConn each slot's send is on, or noConn
	cgen []uint32 // that UDPConn's generation
	free []uint32
}

// busy is how many slots are in flight.
func (p *dgramSends) busy() int { return len(p.gen) - len(p.free) }

// slot returns the memory of slot i.
func (p *dgramSends) slot(i uint32) []byte {
	return p.area[int(i)*p.size : int(i+1)*p.size]
}

// SendTo sends data as one datagram to to, from the worker's UDP socket:
// it is copied into the worker's datagram send pool, whole, or refused
// with ErrDatagramTooLarge (larger than Config.DgramSize) or
// ErrSendPoolExhausted (every slot in flight; nothing was queued). Call it
// on the worker of a ListenUDP server, typically from OnDatagram.
func (w *Worker) SendTo(data []byte, to netip.AddrPort) error {
	return w.sendTo(data, 0, to)
}

// SendToSegments sends data to to as datagrams of segSize bytes each (the
// last may be shorter) in one system call, with UDP generic segmentation
// offload (UDP_SEGMENT): the kernel cuts them, so the UDP stack is walked
// once for all of them. data takes one send slot, so it is at most
// Config.DgramSize bytes, and at most 64 segments; the whole of it is
// queued, or none.
func (w *Worker) SendToSegments(data []byte, segSize int, to netip.AddrPort) error {
	if segSize < 1 || len(data) > 64*segSize {
		w.stats.dgramSendRefused.Add(1)
		return ErrDatagramTooLarge
	}
	if segSize >= len(data) {
		return w.sendTo(data, 0, to) // one datagram: nothing to segment
	}
	return w.sendTo(data, segSize, to)
}

// sendTo queues data for to on the worker's ListenUDP socket, cut into
// segSize datagrams by the kernel when segSize is not 0.
func (w *Worker) sendTo(data []byte, segSize int, to netip.AddrPort) error {
	if w.listenFd < 0 || w.srv.ep.network != "udp" {
		return ErrNotDatagram
	}
	sa, err := w.rawDest(to)
	if err != nil {
		return err
	}
	return w.queueDgram(w.listenFd, noConn, 0, sa, data, segSize)
}

// noConn marks a send from the ListenUDP socket rather than a UDPConn.
const noConn = -1

// queueDgram copies one datagram (or a GSO run of them) into a send slot
// and queues its sendmsg on fd: to dest, a raw sockaddr, or to the
// connected peer when dest is nil. conn is the UDPConn it is sent on, or
// noConn; a connected send's failure goes to that connection's handler.
func (w *Worker) queueDgram(fd int, conn int32, cgen uint32, sa []byte, data []byte, segSize int) error {
	if len(data) > w.cfg.DgramSize {
		w.stats.dgramSendRefused.Add(1)
		return ErrDatagramTooLarge
	}
	p := &w.dsend
	if p.area == nil {
		if err := w.initDgramSends(); err != nil {
			return err
		}
	}
	if len(p.free) == 0 {
		w.stats.dgramSendRefused.Add(1)
		return ErrSendPoolExhausted
	}
	i := p.free[len(p.free)-1]
	p.free = p.free[:len(p.free)-1]
	b := p.slot(i)
	n := copy(b[sendAddrAt:sendCtlAt], sa)
	copy(b[sendDataAt:], data)
	iov := (*unix.Iovec)(unsafe.Pointer(&b[sendIovAt]))
	iov.Base = &b[sendDataAt]
	iov.SetLen(len(data))
	msg := (*unix.Msghdr)(unsafe.Pointer(&b[0]))
	*msg = unix.Msghdr{Iov: iov, Iovlen: 1}
	if n > 0 {
		msg.Name, msg.Namelen = &b[sendAddrAt], uint32(n)
	}
	if segSize > 0 {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&b[sendCtlAt]))
		h.Level, h.Type = unix.SOL_UDP, unix.UDP_SEGMENT
		h.SetLen(unix.CmsgLen(2))
		binary.NativeEndian.PutUint16(b[sendCtlAt+unix.CmsgLen(0):], uint16(segSize))
		msg.Control = &b[sendCtlAt]
		msg.SetControllen(unix.CmsgSpace(2))
	}
	if err := w.be.SendDgram(fd, msg, userData(opDgramSend, i, p.gen[i])); err != nil {
		p.free = append(p.free, i)
		return err
	}
	p.conn[i], p.cgen[i] = conn, cgen
	p.segs[i] = 1
	if segSize > 0 {
		p.segs[i] = uint16((len(data) + segSize - 1) / segSize)
		w.stats.dgramGSO.Add(1)
	}
	return nil
}

// initDgramSends maps the send pool.
func (w *Worker) initDgramSends() error {
	p := &w.dsend
	p.size = (sendDataAt + w.cfg.DgramSize + 7) &^ 7
	n := w.cfg.DgramSendSlots
	mem, err := offheap.New(n * p.size)
	if err != nil {
		return err
	}
	area, err := mem.Alloc(n*p.size, 8)
	if err != nil {
		mem.Close()
		return err
	}
	p.mem, p.area, p.gen, p.segs, p.conn = mem, area, make([]uint32, n), make([]uint16, n), make([]int32, n)
	p.cgen = make([]uint32, n)
	p.free = make([]uint32, n)
	for i := range p.free {
		p.free[i] = uint32(n - 1 - i)
	}
	return nil
}

// onDgramSend frees the slot of a completed datagram send.
func (w *Worker) onDgramSend(c *backend.Completion, i, gen uint32) {
	p := &w.dsend
	if int(i) >= len(p.gen) || p.gen[i] != gen {
		w.stats.staleCompletions.Add(1)
		return
	}
	p.gen[i]++
	p.free = append(p.free, i)
	segs, conn, cgen := p.segs[i], p.conn[i], p.cgen[i]
	if c.Res < 0 {
		w.stats.dgramSendErrors.Add(1)
		if conn != noConn && int(conn) < len(w.uconns.slots) {
			if s := &w.uconns.slots[conn]; s.open && !s.closing && s.gen == cgen {
				err := &net.OpError{Op: "write", Net: "udp", Addr: s.remote, Err: os.NewSyscallError("sendmsg", syscall.Errno(-c.Res))}
				w.callUDPConn(UDPConn{w, uint32(conn), s.gen}, nil, err)
			}
		}
		return
	}
	w.stats.dgramsOut.Add(uint64(segs))
	w.stats.bytesOut.Add(uint64(c.Res))
}

// rawDest encodes to as the raw sockaddr of the worker's socket family:
// an IPv4 destination is mapped into IPv6 on an IPv6 socket.
func (w *Worker) rawDest(to netip.AddrPort) ([]byte, error) {
	ip := to.Addr()
	if !ip.IsValid() {
		return nil, ErrBadAddress
	}
	var b [unix.SizeofSockaddrInet6]byte
	ne := binary.NativeEndian
	binary.BigEndian.PutUint16(b[2:4], to.Port())
	if w.srv.ep.family == unix.AF_INET {
		if !ip.Unmap().Is4() {
			return nil, ErrBadAddress
		}
		ne.PutUint16(b[0:2], unix.AF_INET)
		a := ip.Unmap().As4()
		copy(b[4:8], a[:])
		return b[:unix.SizeofSockaddrInet4], nil
	}
	ne.PutUint16(b[0:2], unix.AF_INET6)
	a := ip.As16() // an IPv4 address comes out mapped
	copy(b[8:24], a[:])
	return b[:], nil
}

// closeDgramSends unmaps the send pool; nothing may be in flight.
func (p *dgramSends) close() {
	if p.mem != nil {
		p.mem.Close()
		*p = dgramSends{}
	}
}
