//go:build linux

package rionet

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ringline-go/ringline/rio"
)

// PacketConn is a net.PacketConn over a rio UDP server (rio.ListenUDP):
// the workers copy each datagram into a bounded queue that ReadFrom takes
// from; WriteTo hands the datagram to a worker, which sends it whole from
// its datagram send pool. A datagram that finds the queue full is dropped,
// as a full socket buffer drops it, and counted (Dropped).
type PacketConn struct {
	srv     *rio.Server
	in      chan packet
	dropped atomic.Uint64
	next    atomic.Uint32

	done      chan struct{}
	closeOnce sync.Once
	rdl, wdl  *deadline
}

// packet is one received datagram, in a buffer from packetBufs.
type packet struct {
	buf  *[]byte
	from netip.AddrPort
}

// packetBufs recycles the datagrams' buffers: ReadFrom returns each once
// it has copied it out, so a steady stream allocates none.
var packetBufs = sync.Pool{New: func() any { return new([]byte) }}

// packetQueue is how many received datagrams wait for ReadFrom.
const packetQueue = 4096

// packetHandler is the DatagramHandler feeding a PacketConn's queue.
type packetHandler struct{ pc *PacketConn }

func (h packetHandler) OnDatagram(_ *rio.Worker, from netip.AddrPort, data []byte) {
	buf := packetBufs.Get().(*[]byte)
	*buf = append((*buf)[:0], data...)
	select {
	case h.pc.in <- packet{buf, from}:
	default:
		packetBufs.Put(buf)
		h.pc.dropped.Add(1)
	}
}

// ListenPacket serves datagrams on network ("udp", "udp4", "udp6") at
// address with cfg.Workers workers and returns a net.PacketConn over them.
func ListenPacket(ctx context.Context, network, address string, cfg rio.Config) (*PacketConn, error) {
	pc := &PacketConn{
		in: make(chan packet, packetQueue), done: make(chan struct{}),
		rdl: newDeadline(), wdl: newDeadline(),
	}
	srv, err := rio.ListenUDP(ctx, network, address, cfg, packetHandler{pc})
	if err != nil {
		return nil, err
	}
	pc.srv = srv
	return pc, nil
}

func (pc *PacketConn) opError(op string, addr net.Addr, err error) error {
	return &net.OpError{Op: op, Net: "udp", Source: pc.srv.Addr(), Addr: addr, Err: err}
}

// ReadFrom reads one datagram into p (the rest of a longer one is
// dropped, as net.UDPConn does), waiting for one, the read deadline or
// Close.
func (pc *PacketConn) ReadFrom(p []byte) (int, net.Addr, error) {
	select {
	case <-pc.done:
		return 0, nil, pc.opError("read", nil, net.ErrClosed)
	case <-pc.rdl.wait():
		return 0, nil, pc.opError("read", nil, os.ErrDeadlineExceeded)
	default:
	}
	select {
	case pkt := <-pc.in:
		n := copy(p, *pkt.buf)
		packetBufs.Put(pkt.buf)
		return n, net.UDPAddrFromAddrPort(pkt.from), nil
	case <-pc.done:
		return 0, nil, pc.opError("read", nil, net.ErrClosed)
	case <-pc.srv.Done():
		return 0, nil, pc.opError("read", nil, net.ErrClosed)
	case <-pc.rdl.wait():
		return 0, nil, pc.opError("read", nil, os.ErrDeadlineExceeded)
	}
}

// WriteTo sends p to addr (a *net.UDPAddr) as one datagram from one of
// the workers, in turn, or fails: a datagram larger than Config.DgramSize,
// a passed write deadline, Close. While the worker's datagram send pool or
// its post queue is full it waits, as a write to a full socket buffer does
// (quic-go, for one, ends a connection on any other write error).
func (pc *PacketConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	select {
	case <-pc.done:
		return 0, pc.opError("write", addr, net.ErrClosed)
	case <-pc.wdl.wait():
		return 0, pc.opError("write", addr, os.ErrDeadlineExceeded)
	default:
	}
	ua, ok := addr.(*net.UDPAddr)
	if !ok {
		return 0, pc.opError("write", addr, errors.New("rionet: not a *net.UDPAddr"))
	}
	s := dgramSends.Get().(*dgramSend)
	s.p, s.to = p, ua.AddrPort()
	if err := pc.send(s); err != nil {
		return 0, pc.opError("write", addr, err)
	}
	return len(p), nil
}

// send has the workers, in turn, send s's datagram, waiting while a
// worker's datagram send pool is full; it returns s to dgramSends once no
// worker holds it.
func (pc *PacketConn) send(s *dgramSend) error {
	for pause := 10 * time.Microsecond; ; pause = min(2*pause, time.Millisecond) {
		w := int(pc.next.Add(1)-1) % pc.srv.Workers()
		if err := post(pc.srv, w, s.run); err != nil {
			return err
		}
		var err error
		select {
		case err = <-s.err:
		case <-pc.srv.Done():
			return net.ErrClosed // s may be in a queue the worker dropped: left to the collector
		}
		if !errors.Is(err, rio.ErrSendPoolExhausted) {
			s.release()
			return err
		}
		select { // the pool is full: sends complete within microseconds
		case <-time.After(pause):
		case <-pc.done:
			s.release()
			return net.ErrClosed
		case <-pc.wdl.wait():
			s.release()
			return os.ErrDeadlineExceeded
		}
	}
}

// dgramSend is a WriteTo's datagram on its way to a worker. It is pooled,
// and its run method value made once, so that a datagram costs WriteTo no
// allocation: a closure and a result channel each were two per datagram.
type dgramSend struct {
	p   []byte
	to  netip.AddrPort
	err chan error        // SendTo's result
	run func(*rio.Worker) // s.sendTo, posted to the worker
}

var dgramSends = sync.Pool{New: func() any {
	s := &dgramSend{err: make(chan error, 1)}
	s.run = s.sendTo
	return s
}}

// sendTo sends the datagram; on the worker.
func (s *dgramSend) sendTo(w *rio.Worker) { s.err <- w.SendTo(s.p, s.to) }

// release returns s to dgramSends, without the caller's bytes.
func (s *dgramSend) release() {
	s.p = nil
	dgramSends.Put(s)
}

// Close stops the workers; pending ReadFrom calls fail with net.ErrClosed.
func (pc *PacketConn) Close() error {
	err := pc.opError("close", nil, net.ErrClosed)
	pc.closeOnce.Do(func() {
		close(pc.done)
		err = pc.srv.Close()
	})
	return err
}

// LocalAddr returns the address the workers' sockets are bound to.
func (pc *PacketConn) LocalAddr() net.Addr { return pc.srv.Addr() }

// SetDeadline sets the read and write deadlines.
func (pc *PacketConn) SetDeadline(t time.Time) error {
	pc.rdl.set(t)
	pc.wdl.set(t)
	return nil
}

// SetReadDeadline sets the deadline for pending and future ReadFrom calls.
func (pc *PacketConn) SetReadDeadline(t time.Time) error { pc.rdl.set(t); return nil }

// SetWriteDeadline sets the deadline for future WriteTo calls.
func (pc *PacketConn) SetWriteDeadline(t time.Time) error { pc.wdl.set(t); return nil }

// Dropped counts datagrams dropped because ReadFrom fell behind.
func (pc *PacketConn) Dropped() uint64 { return pc.dropped.Load() }

var _ net.PacketConn = (*PacketConn)(nil)
