package consumequeue

import (
	"bytes"
	"encoding/hex"
	"math"
	"testing"
)

func TestUnitRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name  string
		u     Unit
		hex   string
		blank bool
		valid bool
	}{
		{"zero", Unit{}, "0000000000000000" + "00000000" + "0000000000000000", false, false},
		{"typical", Unit{CommitLogOffset: 1<<30 + 157, Size: 157, TagsCode: 2598919},
			"000000004000009d" + "0000009d" + "000000000027a807", false, true},
		{"negative tags", Unit{CommitLogOffset: 4096, Size: 200, TagsCode: -1},
			"0000000000001000" + "000000c8" + "ffffffffffffffff", false, true},
		{"blank", Unit{Size: math.MaxInt32}, "0000000000000000" + "7fffffff" + "0000000000000000", true, true},
		{"blank with tags", Unit{Size: math.MaxInt32, TagsCode: 7}, "0000000000000000" + "7fffffff" + "0000000000000007", true, true},
		{"max", Unit{CommitLogOffset: math.MaxInt64, Size: math.MaxInt32 - 1, TagsCode: math.MinInt64},
			"7fffffffffffffff" + "7ffffffe" + "8000000000000000", false, true},
		{"negative offset", Unit{CommitLogOffset: -1, Size: 10}, "ffffffffffffffff" + "0000000a" + "0000000000000000", false, false},
		{"negative size", Unit{CommitLogOffset: 1, Size: -5}, "0000000000000001" + "fffffffb" + "0000000000000000", false, false},
		{"max size at offset", Unit{CommitLogOffset: 8, Size: math.MaxInt32}, "0000000000000008" + "7fffffff" + "0000000000000000", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := bytes.Repeat([]byte{0xEE}, UnitSize+5)
			tc.u.Put(b)
			if got := hex.EncodeToString(b[:UnitSize]); got != tc.hex {
				t.Fatalf("Put = %s, want %s", got, tc.hex)
			}
			if !bytes.Equal(b[UnitSize:], bytes.Repeat([]byte{0xEE}, 5)) {
				t.Fatal("Put wrote past the unit")
			}
			u, ok := DecodeUnit(b)
			if !ok || u != tc.u {
				t.Fatalf("DecodeUnit = %+v, %v, want %+v", u, ok, tc.u)
			}
			if u.Blank() != tc.blank || u.valid() != tc.valid {
				t.Fatalf("blank %v valid %v, want %v %v", u.Blank(), u.valid(), tc.blank, tc.valid)
			}
			for n := range UnitSize {
				if _, ok := DecodeUnit(b[:n]); ok {
					t.Fatalf("DecodeUnit of %d bytes: ok", n)
				}
			}
		})
	}
}

func units(us ...Unit) []byte {
	var b []byte
	for _, u := range us {
		var buf [UnitSize]byte
		u.Put(buf[:])
		b = append(b, buf[:]...)
	}
	return b
}

func TestScanUnits(t *testing.T) {
	a := Unit{CommitLogOffset: 0, Size: 100, TagsCode: 1}
	b := Unit{CommitLogOffset: 100, Size: 50}
	blank := Unit{Size: math.MaxInt32}
	for _, tc := range []struct {
		name string
		b    []byte
		want int
	}{
		{"nil", nil, 0},
		{"short", units(a)[:UnitSize-1], 0},
		{"one", units(a), 1},
		{"one and a part", append(units(a), 1, 2, 3), 1},
		{"zeros end it", units(a, b, Unit{}, a), 2},
		{"blanks count", units(blank, blank, a, b), 4},
		{"negative offset ends it", units(a, Unit{CommitLogOffset: -1, Size: 1}, b), 1},
		{"zero size ends it", units(a, Unit{CommitLogOffset: 200}, b), 1},
		{"negative size ends it", units(a, Unit{CommitLogOffset: 200, Size: -1}, b), 1},
		{"first invalid", units(Unit{}, a), 0},
		{"all zero", make([]byte, 10*UnitSize), 0},
	} {
		if got := ScanUnits(tc.b); got != tc.want {
			t.Errorf("%s: ScanUnits = %d, want %d", tc.name, got, tc.want)
		}
	}
}
