//go:build linux

package rio

import "testing"

// TestConnStateTransitions checks the transition table: every listed move
// is taken, and every other one panics (a runtime bug, caught at once
// rather than leaving a connection in a state no code handles).
func TestConnStateTransitions(t *testing.T) {
	for from := connFree; from < connStates; from++ {
		for to := connFree; to < connStates; to++ {
			legal := false
			for _, ok := range legalNext[from] {
				legal = legal || ok == to
			}
			s := &connSlot{state: from}
			panicked := func() (p bool) {
				defer func() { p = recover() != nil }()
				s.setState(to)
				return false
			}()
			switch {
			case legal && (panicked || s.state != to):
				t.Errorf("%s -> %s is legal but was refused", stateNames[from], stateNames[to])
			case !legal && !panicked:
				t.Errorf("%s -> %s is not in the table but was taken", stateNames[from], stateNames[to])
			}
		}
	}
	// The graceful path and the immediate one, end to end.
	s := &connSlot{}
	for _, next := range []connState{connOpen, connDraining, connLingering, connFinal, connFree, connConnecting, connFinal, connFree} {
		s.setState(next)
	}
}
