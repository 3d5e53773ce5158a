//go:build linux

package rio

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// Worker timers fire in the order of their deadlines, whichever of
// AfterFunc and At armed them and in whatever order they were armed.
// AfterFunc's deadline is its own clock read plus the duration, so the test
// brackets each one between clock reads taken around the call and flags
// only a pair fired in an order no reading of the clock allows: a busy CPU
// delaying the arming cannot fail it.
func TestTimersFireInDeadlineOrder(t *testing.T) {
	forEachBackend(t, func(t *testing.T, cfg Config) {
		cfg.Workers = 1
		const n = 20
		durs := make([]time.Duration, n) // 5ms .. 100ms, 5ms apart
		for i := range durs {
			durs[i] = time.Duration(i+1) * 5 * time.Millisecond
		}
		rand.New(rand.NewPCG(3, 4)).Shuffle(n, func(i, j int) { durs[i], durs[j] = durs[j], durs[i] })

		var base time.Time               // when arming began; worker-owned until done is closed
		var fired []int                  // worker-owned until done is closed
		earliest := make([]time.Time, n) // bounds of each timer's deadline
		latest := make([]time.Time, n)
		done := make(chan struct{})
		errc := make(chan error, 1)
		srv := startClient(t, cfg, &hooks{start: func(w *Worker) {
			base = time.Now()
			for i, d := range durs {
				fn := func() {
					fired = append(fired, i)
					if len(fired) == n {
						close(done)
					}
				}
				var err error
				if i%3 == 0 {
					// At reads the clock twice (its monotonic now, then
					// time.Until), so its deadline may fall short of the
					// time asked for by what passes during the call.
					before := time.Now()
					_, err = w.At(base.Add(d), fn)
					earliest[i], latest[i] = base.Add(d-time.Since(before)), base.Add(d)
				} else {
					rel := time.Until(base.Add(d))
					earliest[i] = time.Now().Add(rel)
					_, err = w.AfterFunc(rel, fn)
					latest[i] = time.Now().Add(rel)
				}
				if err != nil {
					errc <- fmt.Errorf("arming timer %d (%v): %w", i, d, err)
					return
				}
			}
		}})
		select {
		case err := <-errc:
			t.Fatal(err)
		case <-done:
		case <-time.After(30 * time.Second):
			t.Fatal("timers still not all fired after 30s")
		}
		for k := 1; k < n; k++ {
			prev, cur := fired[k-1], fired[k]
			if earliest[prev].After(latest[cur]) {
				var order []time.Duration
				for _, i := range fired {
					order = append(order, durs[i])
				}
				t.Fatalf("timer due at base+%v fired before one due by base+%v: order %v",
					earliest[prev].Sub(base), latest[cur].Sub(base), order)
			}
		}
		if got := srv.Stats().Total().TimersFired; got != n {
			t.Errorf("Stats TimersFired = %d, want %d", got, n)
		}
	})
}

// Timer.Stop keeps a pending timer's function from ever running and reports
// true, whether called right after arming or from another timer's function;
// it reports false for a timer that already fired (even when its slot
// serves a new timer, which keeps running), for one stopped before, and for
// the zero Timer.
func TestTimerStopNeverFires(t *testing.T) {
	forEachBackend(t, func(t *testing.T, cfg Config) {
		cfg.Workers = 1
		if (Timer{}).Stop() {
			t.Error("Stop on the zero Timer reported true")
		}

		// Worker-owned until done is closed.
		fired := map[string]int{}
		var problems []string
		stopperLate := false
		done := make(chan struct{})
		bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

		srv := startClient(t, cfg, &hooks{start: func(w *Worker) {
			arm := func(name string, d time.Duration, also func()) Timer {
				tm, err := w.AfterFunc(d, func() {
					fired[name]++
					if also != nil {
						also()
					}
				})
				if err != nil {
					bad("arming %s: %v", name, err)
				}
				return tm
			}
			// Kept: these must fire. The first re-arms a timer from its
			// function, which takes the slot it just left.
			var keepers []Timer
			var reuse Timer
			for i := range 5 {
				name := fmt.Sprintf("keep%d", i)
				var also func()
				if i == 0 {
					also = func() {
						reuse = arm("reuse", 30*time.Millisecond, nil)
						if keepers[0].Stop() {
							bad("Stop on keep0 from its own function (already fired) reported true")
						}
					}
				}
				keepers = append(keepers, arm(name, time.Duration(20+20*i)*time.Millisecond, also))
			}
			// Stopped right away.
			for i := range 6 {
				name := fmt.Sprintf("now%d", i)
				tm := arm(name, time.Duration(30+10*i)*time.Millisecond, nil)
				if !tm.Stop() {
					bad("Stop on %s right after arming reported false", name)
				}
				if tm.Stop() {
					bad("second Stop on %s reported true", name)
				}
			}
			// Stopped from another timer's function, long before they are due.
			var victims []Timer
			for i := range 4 {
				victims = append(victims, arm(fmt.Sprintf("victim%d", i), time.Duration(400+20*i)*time.Millisecond, nil))
			}
			arm("stopper", time.Millisecond, func() {
				for i, v := range victims {
					name := fmt.Sprintf("victim%d", i)
					switch {
					case v.Stop():
					case fired[name] > 0:
						stopperLate = true // the worker was held up ~400ms: nothing to conclude
					default:
						bad("Stop on pending %s from the stopper reported false", name)
					}
				}
			})
			// Stopped by a timer due just before it: its expiry may already be
			// reaped, in the same batch, when the stopper's function runs.
			base := time.Now()
			var twin Timer
			if _, err := w.At(base.Add(50*time.Millisecond), func() {
				fired["twinStopper"]++
				switch {
				case twin.Stop():
				case fired["twin"] > 0:
					stopperLate = true // arming jitter put twin first: nothing to conclude
				default:
					bad("Stop on twin from the timer due just before it reported false")
				}
			}); err != nil {
				bad("arming twinStopper: %v", err)
			}
			twin = arm("twin", time.Until(base.Add(50*time.Millisecond+5*time.Microsecond)), nil)
			// The sentinel comes after every deadline above.
			arm("sentinel", 700*time.Millisecond, func() {
				for i, k := range keepers {
					if k.Stop() {
						bad("Stop on keep%d after it fired reported true", i)
					}
				}
				if reuse.Stop() {
					bad("Stop on reuse after it fired reported true")
				}
				for i, v := range victims {
					if v.Stop() {
						bad("Stop on victim%d, stopped before, reported true", i)
					}
				}
				close(done)
			})
		}})
		within(t, "sentinel timer", done, 30*time.Second)
		for _, p := range problems {
			t.Error(p)
		}
		if stopperLate {
			t.Skip("a stopper timer ran after its victim was due; cannot count the firings")
		}
		want := map[string]int{"keep0": 1, "keep1": 1, "keep2": 1, "keep3": 1, "keep4": 1,
			"reuse": 1, "stopper": 1, "twinStopper": 1, "sentinel": 1}
		for name, n := range fired {
			if want[name] != n {
				t.Errorf("timer %s fired %d times, want %d", name, n, want[name])
			}
		}
		for name := range want {
			if fired[name] == 0 {
				t.Errorf("timer %s never fired", name)
			}
		}
		if got := srv.Stats().Total().TimersFired; got != uint64(len(want)) {
			t.Errorf("Stats TimersFired = %d, want %d", got, len(want))
		}
	})
}

// With Config.TimerSlots pending timers, arming another fails with
// ErrTimerPoolExhausted (AfterFunc and At alike); once one has fired its
// slot can be armed again.
func TestTimerPoolExhausted(t *testing.T) {
	forEachBackend(t, func(t *testing.T, cfg Config) {
		cfg.Workers = 1
		cfg.TimerSlots = 4
		var problems []string // worker-owned until done is closed
		bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
		done := make(chan struct{})
		startClient(t, cfg, &hooks{start: func(w *Worker) {
			var long []Timer
			_, err := w.AfterFunc(10*time.Millisecond, func() {
				// This timer's slot is free again while its function runs.
				_, err := w.AfterFunc(10*time.Millisecond, func() {
					for i, tm := range long {
						if !tm.Stop() {
							bad("Stop on long timer %d reported false", i)
						}
					}
					close(done)
				})
				if err != nil {
					bad("AfterFunc after a timer fired: %v", err)
					close(done)
					return
				}
				if _, err := w.AfterFunc(time.Millisecond, func() { bad("timer armed past the limit fired") }); !errors.Is(err, ErrTimerPoolExhausted) {
					bad("AfterFunc with the pool full again: err = %v, want ErrTimerPoolExhausted", err)
				}
			})
			if err != nil {
				bad("arming timer 1: %v", err)
				close(done)
				return
			}
			for i := range 3 {
				tm, err := w.AfterFunc(time.Hour, func() { bad("long timer fired") })
				if err != nil {
					bad("arming timer %d: %v", i+2, err)
				}
				long = append(long, tm)
			}
			if _, err := w.AfterFunc(time.Millisecond, func() { bad("5th timer fired") }); !errors.Is(err, ErrTimerPoolExhausted) {
				bad("5th AfterFunc: err = %v, want ErrTimerPoolExhausted", err)
			}
			if _, err := w.At(time.Now().Add(time.Millisecond), func() { bad("5th At timer fired") }); !errors.Is(err, ErrTimerPoolExhausted) {
				bad("5th At: err = %v, want ErrTimerPoolExhausted", err)
			}
		}})
		within(t, "re-armed timer", done, 30*time.Second)
		for _, p := range problems {
			t.Error(p)
		}
	})
}
