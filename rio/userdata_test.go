package rio

import "testing"

// TestUserDataRoundTrip checks that the runtime's user_data keeps op, slot
// and generation apart at their extremes.
func TestUserDataRoundTrip(t *testing.T) {
	for _, c := range []struct {
		o         op
		slot, gen uint32
	}{
		{opAccept, 0, 0},
		{opRecv, maxSlot, ^uint32(0)},
		{opWake, 1, 1 << 31},
		{op(255), maxSlot, 0},
	} {
		o, slot, gen := parseUserData(userData(c.o, c.slot, c.gen))
		if o != c.o || slot != c.slot || gen != c.gen {
			t.Errorf("userData(%d, %d, %d) came back as (%d, %d, %d)", c.o, c.slot, c.gen, o, slot, gen)
		}
	}
	if userData(opNone, 0, 0) != 0 {
		t.Error("opNone with slot 0 and generation 0 must encode as 0, the user_data the worker never issues")
	}
}

// FuzzUserData checks the encoder and decoder agree on every value: any
// 64-bit user_data decodes to fields that encode back to it, and any fields
// within range survive a round trip.
func FuzzUserData(f *testing.F) {
	f.Add(uint64(0), uint8(1), uint32(0), uint32(0))
	f.Add(^uint64(0), uint8(255), uint32(maxSlot), ^uint32(0))
	f.Fuzz(func(t *testing.T, u uint64, o uint8, slot, gen uint32) {
		po, ps, pg := parseUserData(u)
		if back := userData(po, ps, pg); back != u {
			t.Fatalf("%#x decodes to (%d, %d, %d), which encodes to %#x", u, po, ps, pg, back)
		}
		slot &= maxSlot
		if ro, rs, rg := parseUserData(userData(op(o), slot, gen)); ro != op(o) || rs != slot || rg != gen {
			t.Fatalf("(%d, %d, %d) came back as (%d, %d, %d)", o, slot, gen, ro, rs, rg)
		}
	})
}
