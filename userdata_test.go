package ringline

// Regression tests for userdata.go. They guard the 8/24/32-bit packing of
// user_data: every issued tag must survive a round trip at the field bounds,
// an index past 24 bits must be refused with ErrIndexRange instead of being
// silently truncated into a neighbouring slot, and tags the binding never
// issues (0, 0xFF, anything past TagNop) must be refused too.

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestUserDataRoundTrip(t *testing.T) {
	indexes := []uint32{0, 1, MaxIndex - 1, MaxIndex}
	payloads := []uint32{0, 1, 0xFFFFFFFF}
	for tag := TagRecvMulti; tag <= TagNop; tag++ {
		t.Run(tag.String(), func(t *testing.T) {
			for _, index := range indexes {
				for _, payload := range payloads {
					u, err := NewUserData(tag, index, payload)
					if err != nil {
						t.Fatalf("NewUserData(%v, %#x, %#x): got error %v, want nil", tag, index, payload, err)
					}
					want := UserData(uint64(tag)<<56 | uint64(index)<<32 | uint64(payload))
					if u != want {
						t.Errorf("NewUserData(%v, %#x, %#x) = %#016x, want %#016x", tag, index, payload, uint64(u), uint64(want))
					}
					if got := u.Tag(); got != tag {
						t.Errorf("Tag() of %#016x = %v, want %v", uint64(u), got, tag)
					}
					if got := u.Index(); got != index {
						t.Errorf("Index() of %#016x = %#x, want %#x", uint64(u), got, index)
					}
					if got := u.Payload(); got != payload {
						t.Errorf("Payload() of %#016x = %#x, want %#x", uint64(u), got, payload)
					}
				}
			}
		})
	}
}

func TestUserDataTagNames(t *testing.T) {
	if TagAccept+1 != tagCount {
		t.Fatalf("TagAccept+1 = %d, want tagCount %d: TagAccept must be the last valid tag", TagAccept+1, tagCount)
	}
	seen := make(map[string]Tag)
	for tag := TagRecvMulti; tag <= TagNop; tag++ {
		if !tag.Valid() {
			t.Errorf("Tag(%d).Valid() = false, want true", uint8(tag))
		}
		name := tag.String()
		if name == "" || strings.HasPrefix(name, "tag(") {
			t.Errorf("Tag(%d).String() = %q, want a proper name", uint8(tag), name)
		}
		if prev, dup := seen[name]; dup {
			t.Errorf("Tag(%d).String() = %q, same as Tag(%d)", uint8(tag), name, uint8(prev))
		}
		seen[name] = tag
	}
	for _, tag := range []Tag{TagNone, tagCount, 200, Tag(0xFF)} {
		if tag.Valid() {
			t.Errorf("Tag(%d).Valid() = true, want false", uint8(tag))
		}
	}
	for _, tag := range []Tag{tagCount, 200, Tag(0xFF)} {
		if got, want := tag.String(), fmt.Sprintf("tag(%d)", uint8(tag)); got != want {
			t.Errorf("Tag(%d).String() = %q, want %q", uint8(tag), got, want)
		}
	}
	u, err := NewUserData(TagNop, 5, 7)
	if err != nil {
		t.Fatalf("NewUserData(TagNop, 5, 7): %v", err)
	}
	if got, want := u.String(), "nop/5/7"; got != want {
		t.Errorf("UserData.String() = %q, want %q", got, want)
	}
}

func TestUserDataRefusesIndexOutOfRange(t *testing.T) {
	for _, tag := range []Tag{TagRecvMulti, TagNvmeCmd, TagNop} {
		for _, index := range []uint32{MaxIndex + 1, 1 << 31, 0xFFFFFFFF} {
			u, err := NewUserData(tag, index, 42)
			if err == nil {
				t.Errorf("NewUserData(%v, %#x, 42) = %#016x, nil; want ErrIndexRange (the index would be truncated to %#x)",
					tag, index, uint64(u), index&MaxIndex)
				continue
			}
			if !errors.Is(err, ErrIndexRange) {
				t.Errorf("NewUserData(%v, %#x, 42): error %v, want errors.Is ErrIndexRange", tag, index, err)
			}
			if u != 0 {
				t.Errorf("NewUserData(%v, %#x, 42) returned %#016x with its error, want 0", tag, index, uint64(u))
			}
		}
	}
}

func TestUserDataRefusesUnissuedTag(t *testing.T) {
	for _, tag := range []Tag{TagNone, Tag(0xFF), 200, tagCount} {
		u, err := NewUserData(tag, 1, 1)
		if err == nil {
			t.Errorf("NewUserData(Tag(%d), 1, 1) = %#016x, nil; want an error", uint8(tag), uint64(u))
			continue
		}
		if errors.Is(err, ErrIndexRange) {
			t.Errorf("NewUserData(Tag(%d), 1, 1): error %v matches ErrIndexRange, but the index is in range", uint8(tag), err)
		}
		if u != 0 {
			t.Errorf("NewUserData(Tag(%d), 1, 1) returned %#016x with its error, want 0", uint8(tag), uint64(u))
		}
	}
}

func FuzzUserData(f *testing.F) {
	for _, tag := range []uint8{0, 1, uint8(TagNop), uint8(tagCount), 200, 0xFF} {
		for _, index := range []uint32{0, 1, MaxIndex - 1, MaxIndex, MaxIndex + 1, 1 << 31, 0xFFFFFFFF} {
			for _, payload := range []uint32{0, 1, 0xFFFFFFFF} {
				f.Add(tag, index, payload)
			}
		}
	}
	f.Fuzz(func(t *testing.T, tag uint8, index uint32, payload uint32) {
		u, err := NewUserData(Tag(tag), index, payload)
		indexOK, tagOK := index <= MaxIndex, Tag(tag).Valid()
		if err == nil {
			if !indexOK || !tagOK {
				t.Fatalf("NewUserData(%d, %#x, %#x) = %#016x, nil; want an error (index ok %v, tag ok %v)",
					tag, index, payload, uint64(u), indexOK, tagOK)
			}
			want := uint64(tag)<<56 | uint64(index)<<32 | uint64(payload)
			if uint64(u) != want {
				t.Fatalf("NewUserData(%d, %#x, %#x) = %#016x, want %#016x", tag, index, payload, uint64(u), want)
			}
			if u.Tag() != Tag(tag) || u.Index() != index || u.Payload() != payload {
				t.Fatalf("%#016x decodes to (%d, %#x, %#x), want (%d, %#x, %#x)",
					uint64(u), uint8(u.Tag()), u.Index(), u.Payload(), tag, index, payload)
			}
			return
		}
		if u != 0 {
			t.Fatalf("NewUserData(%d, %#x, %#x) returned %#016x with error %v, want 0", tag, index, payload, uint64(u), err)
		}
		switch {
		case !indexOK:
			if !errors.Is(err, ErrIndexRange) {
				t.Fatalf("NewUserData(%d, %#x, %#x): error %v, want errors.Is ErrIndexRange", tag, index, payload, err)
			}
		case !tagOK:
			if errors.Is(err, ErrIndexRange) {
				t.Fatalf("NewUserData(%d, %#x, %#x): error %v matches ErrIndexRange, but only the tag is bad", tag, index, payload, err)
			}
		default:
			t.Fatalf("NewUserData(%d, %#x, %#x): error %v, but index and tag are both valid", tag, index, payload, err)
		}
	})
}
