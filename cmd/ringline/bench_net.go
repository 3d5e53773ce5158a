//go:build linux

package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// The net client: Go's net package, two goroutines per connection. The
// writer sends a request whenever fewer than --pipeline are in flight; the
// reader reads each echo whole, checks it and frees the slot.

// dialTimeout bounds each connection attempt of either client.
const dialTimeout = 5 * time.Second

// netClient is the running net load.
type netClient struct {
	conns []*netConn
	nlive atomic.Int64
	wg    sync.WaitGroup

	mu   sync.Mutex // guards errs
	errs errorLog
}

// netConn is one connection and its two goroutines' shared state.
type netConn struct {
	cl   *netClient
	id   int
	conn net.Conn
	lat  *latencies // the reader's
	nops atomic.Uint64

	credits chan struct{}      // a token per free slot in the pipeline
	sent    chan time.Duration // send times of the requests in flight, in order
	quit    chan struct{}      // closed when the connection ends
	ended   atomic.Bool        // set once, by the first to end it
}

// startNetClient dials every connection and starts the load. When even the
// first connection cannot be made it returns why.
func startNetClient(cfg benchConfig, clk clock, win window) (loadClient, error) {
	cl := &netClient{}
	for id := range cfg.conns {
		conn, err := net.DialTimeout(cfg.network, cfg.addr, dialTimeout)
		if err != nil {
			if id == 0 {
				return nil, noConnection(cfg, err)
			}
			cl.errs.add(fmt.Sprintf("conn %d: %v", id, err))
			continue
		}
		c := &netConn{
			cl: cl, id: id, conn: conn, lat: newLatencies(),
			credits: make(chan struct{}, cfg.pipeline),
			sent:    make(chan time.Duration, cfg.pipeline),
			quit:    make(chan struct{}),
		}
		for range cfg.pipeline {
			c.credits <- struct{}{}
		}
		cl.conns = append(cl.conns, c)
	}
	cl.nlive.Store(int64(len(cl.conns)))
	for _, c := range cl.conns {
		cl.wg.Add(2)
		go c.write(cfg, clk)
		go c.read(cfg, clk, win)
	}
	return cl, nil
}

func (cl *netClient) ops() uint64 {
	var n uint64
	for _, c := range cl.conns {
		n += c.nops.Load()
	}
	return n
}

func (cl *netClient) live() int { return int(cl.nlive.Load()) }

func (cl *netClient) stop() tally {
	for _, c := range cl.conns {
		c.end("")
	}
	cl.wg.Wait()
	t := tally{lat: newLatencies(), opened: len(cl.conns), errs: cl.errs}
	for _, c := range cl.conns {
		t.ops += c.nops.Load()
		t.lat.merge(c.lat)
	}
	return t
}

// end stops the connection once: it closes the socket, which ends both
// goroutines, and records msg as an error unless it is empty.
func (c *netConn) end(msg string) {
	if !c.ended.CompareAndSwap(false, true) {
		return
	}
	if msg != "" {
		c.cl.mu.Lock()
		c.cl.errs.add(msg)
		c.cl.mu.Unlock()
	}
	close(c.quit)
	c.conn.Close()
	c.cl.nlive.Add(-1)
}

// write sends requests 0, 1, 2 ... each once a pipeline slot is free.
func (c *netConn) write(cfg benchConfig, clk clock) {
	defer c.cl.wg.Done()
	buf := make([]byte, cfg.size)
	for seq := uint64(0); ; seq++ {
		fillPattern(buf, requestSeed(c.id, seq), 0)
		select {
		case <-c.credits:
		case <-c.quit:
			return
		}
		c.sent <- clk.now() // never blocks: a credit was taken
		if _, err := c.conn.Write(buf); err != nil {
			c.end(fmt.Sprintf("conn %d request %d: %v", c.id, seq, err))
			return
		}
	}
}

// read reads and checks each echo in turn and times it.
func (c *netConn) read(cfg benchConfig, clk clock, win window) {
	defer c.cl.wg.Done()
	r := bufio.NewReaderSize(c.conn, max(64<<10, cfg.size))
	buf := make([]byte, cfg.size)
	for seq := uint64(0); ; seq++ {
		n, err := io.ReadFull(r, buf)
		now := clk.now()
		if bad := checkPattern(buf[:n], requestSeed(c.id, seq), 0); bad >= 0 {
			c.end(mismatch(c.id, seq, cfg.size, buf[:n], 0, bad, cfg.pipeline))
			return
		}
		if err != nil {
			c.end(c.readError(seq, n, cfg, err))
			return
		}
		var sentAt time.Duration
		select {
		case sentAt = <-c.sent:
		case <-c.quit:
			return
		}
		if win.holds(now) {
			c.lat.record(now - sentAt)
			c.nops.Add(1)
		}
		c.credits <- struct{}{} // never blocks: the request's credit comes back
	}
}

// readError describes a failed read of request seq's echo after n of its
// bytes arrived.
func (c *netConn) readError(seq uint64, n int, cfg benchConfig, err error) string {
	if c.ended.Load() {
		return "" // stopped: the socket was closed under the read
	}
	inFlight := len(c.sent)
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Sprintf("conn %d request %d: the server closed the connection after %d of the %d bytes of the echo (%d requests unanswered)",
			c.id, seq, n, cfg.size, inFlight)
	}
	return fmt.Sprintf("conn %d request %d: read after %d of %d bytes: %v", c.id, seq, n, cfg.size, err)
}
