//go:build linux

package rionet

import (
	"sync"
	"time"
)

// deadline is one of a Conn's deadlines: a channel that is closed when the
// time set passes, and replaced when the deadline is set again.
type deadline struct {
	mu     sync.Mutex
	timer  *time.Timer
	passed chan struct{} // closed once the deadline has passed
	at     time.Time     // the deadline set; zero for none
}

func newDeadline() *deadline { return &deadline{passed: make(chan struct{})} }

// set moves the deadline to t; the zero time means none.
func (d *deadline) set(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.timer != nil && !d.timer.Stop() {
		<-d.passed // the timer fired: wait for it to close the channel it had
	}
	d.timer, d.at = nil, t
	select {
	case <-d.passed:
		d.passed = make(chan struct{}) // passed before: start over
	default:
	}
	if t.IsZero() {
		return
	}
	if wait := time.Until(t); wait > 0 {
		passed := d.passed
		d.timer = time.AfterFunc(wait, func() { close(passed) })
		return
	}
	close(d.passed)
}

// isSet reports whether a deadline is set.
func (d *deadline) isSet() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return !d.at.IsZero()
}

// wait returns the channel closed when the deadline passes.
func (d *deadline) wait() <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.passed
}
