package index

import (
	"bytes"
	"errors"
	"io"
	"math"
	"strings"
	"testing"
	"time"
)

func TestHeaderRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		h    Header
		enc  []byte // nil: only round-trip
	}{
		{name: "zero", h: Header{}, enc: make([]byte, HeaderSize)},
		{name: "new file", h: Header{IndexCount: 1}, enc: append(make([]byte, 39), 1)},
		{
			name: "fields in order",
			h: Header{
				BeginTimestamp: 0x0102030405060708,
				EndTimestamp:   0x1112131415161718,
				BeginPhyOffset: 0x2122232425262728,
				EndPhyOffset:   0x3132333435363738,
				HashSlotCount:  0x41424344,
				IndexCount:     0x51525354,
			},
			enc: []byte{
				1, 2, 3, 4, 5, 6, 7, 8,
				0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18,
				0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28,
				0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38,
				0x41, 0x42, 0x43, 0x44,
				0x51, 0x52, 0x53, 0x54,
			},
		},
		{name: "negative", h: Header{BeginTimestamp: -1, EndPhyOffset: math.MinInt64, HashSlotCount: -5, IndexCount: math.MinInt32}},
		{name: "max", h: Header{math.MaxInt64, math.MaxInt64, math.MaxInt64, math.MaxInt64, math.MaxInt32, math.MaxInt32}},
		{name: "typical", h: Header{1700000000000, 1700000123456, 0, 1 << 40, 19999999, 20000000}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			prefix := []byte("xy")
			b := tc.h.AppendTo(prefix)
			if len(b) != len(prefix)+HeaderSize || !bytes.Equal(b[:2], prefix) {
				t.Fatalf("AppendTo: got %d bytes %x", len(b), b)
			}
			if tc.enc != nil && !bytes.Equal(b[2:], tc.enc) {
				t.Fatalf("encoding\n got %x\nwant %x", b[2:], tc.enc)
			}
			got, err := DecodeHeader(b[2:])
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.h {
				t.Fatalf("decode(encode(h)) = %+v, want %+v", got, tc.h)
			}
		})
	}
}

func TestEntryRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		e    Entry
		enc  []byte
	}{
		{name: "zero", e: Entry{}, enc: make([]byte, EntrySize)},
		{
			name: "fields in order",
			e:    Entry{KeyHash: 0x01020304, PhyOffset: 0x1112131415161718, TimeDiff: 0x21222324, PrevIndex: 0x31323334},
			enc: []byte{
				1, 2, 3, 4,
				0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18,
				0x21, 0x22, 0x23, 0x24,
				0x31, 0x32, 0x33, 0x34,
			},
		},
		{name: "negative", e: Entry{KeyHash: -1, PhyOffset: -2, TimeDiff: -3, PrevIndex: math.MinInt32}},
		{name: "max", e: Entry{math.MaxInt32, math.MaxInt64, math.MaxInt32, math.MaxInt32}},
		{name: "typical", e: Entry{KeyHash: KeyHash("TopicTest#KEY1"), PhyOffset: 1 << 30, TimeDiff: 3600, PrevIndex: 17}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.e.AppendTo(nil)
			if len(b) != EntrySize {
				t.Fatalf("AppendTo: %d bytes", len(b))
			}
			if tc.enc != nil && !bytes.Equal(b, tc.enc) {
				t.Fatalf("encoding\n got %x\nwant %x", b, tc.enc)
			}
			got, err := DecodeEntry(b)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.e {
				t.Fatalf("decode(encode(e)) = %+v, want %+v", got, tc.e)
			}
		})
	}
}

func TestDecodeShort(t *testing.T) {
	for n := range HeaderSize {
		if _, err := DecodeHeader(make([]byte, n)); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("DecodeHeader(%d bytes): err %v, want ErrUnexpectedEOF", n, err)
		}
	}
	for n := range EntrySize {
		if _, err := DecodeEntry(make([]byte, n)); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("DecodeEntry(%d bytes): err %v, want ErrUnexpectedEOF", n, err)
		}
	}
}

// javaHashCode is String.hashCode written out for ASCII strings.
func javaHashCode(s string) int32 {
	var h int32
	for i := range len(s) {
		h = 31*h + int32(s[i])
	}
	return h
}

// TestKeyHashMatchesJava: IndexFile.indexKeyHashMethod is
// abs(key.hashCode()) with Integer.MIN_VALUE mapped to 0.
func TestKeyHashMatchesJava(t *testing.T) {
	for _, tc := range []struct {
		key  string
		want int32
	}{
		{"", 0},
		{"hello", 99162322},       // "hello".hashCode()
		{"a", 97},                 // 'a'
		{"polygenelubricants", 0}, // hashCode() == Integer.MIN_VALUE
		{"TopicTest#KEY1", abs32(javaHashCode("TopicTest#KEY1"))}, // negative hashCode
		{"TopicTest#KEY2", abs32(javaHashCode("TopicTest#KEY2"))},
	} {
		if got := KeyHash(tc.key); got != tc.want {
			t.Errorf("KeyHash(%q) = %d, want %d", tc.key, got, tc.want)
		}
	}
	if h := javaHashCode("polygenelubricants"); h != math.MinInt32 {
		t.Fatalf("test premise: hashCode(polygenelubricants) = %d", h)
	}
	// A key whose hashCode is negative (found by search) gets its absolute value.
	neg := ""
	for i := 1; i < 64 && neg == ""; i++ {
		if k := "TopicTest#" + strings.Repeat("k", i); javaHashCode(k) < 0 {
			neg = k
		}
	}
	if neg == "" {
		t.Fatal("test premise: no key with a negative hashCode found")
	}
	if got, want := KeyHash(neg), -javaHashCode(neg); got != want {
		t.Errorf("KeyHash(%q) = %d, want %d", neg, got, want)
	}
	// Characters outside the BMP hash as two UTF-16 units.
	if got, want := KeyHash("T#\U0001F600"), abs32(31*(31*(31*int32('T')+'#')+0xD83D)+0xDE00); got != want {
		t.Errorf("KeyHash(emoji) = %d, want %d", got, want)
	}
}

func abs32(x int32) int32 {
	if x < 0 {
		return -x
	}
	return x
}

// TestDocumentedExample pins the example of docs/format/index.md.
func TestDocumentedExample(t *testing.T) {
	if h := javaHashCode("TopicTest#KEY1"); h != -1_656_969_516 {
		t.Errorf("hashCode = %d", h)
	}
	if kh := KeyHash("TopicTest#KEY1"); kh != 1_656_969_516 || kh%DefaultSlotCount != 1_969_516 {
		t.Errorf("key hash %d, slot %d", kh, kh%DefaultSlotCount)
	}
}

func TestFileSize(t *testing.T) {
	if got := FileSize(DefaultSlotCount, DefaultMaxEntries); got != 420_000_040 {
		t.Errorf("default file size %d, want 420000040", got)
	}
	if got := FileSize(16, 8); got != 40+64+160 {
		t.Errorf("FileSize(16, 8) = %d", got)
	}
}

func TestOptionsValidate(t *testing.T) {
	for _, tc := range []struct {
		o  Options
		ok bool
	}{
		{Options{}, true},
		{DefaultOptions(), true},
		{Options{SlotCount: 1, MaxEntries: 2}, true},
		{Options{SlotCount: 16}, true},
		{Options{SlotCount: -1}, false},
		{Options{MaxEntries: -1}, false},
		{Options{MaxEntries: 1}, false},
		{Options{SlotCount: 1, MaxEntries: 107_374_180}, true},  // 40+4+2147483600
		{Options{SlotCount: 1, MaxEntries: 107_374_181}, false}, // > MaxInt32 bytes
		{Options{SlotCount: math.MaxInt32 + 1}, false},
	} {
		err := tc.o.Validate()
		if (err == nil) != tc.ok {
			t.Errorf("%+v.Validate() = %v, want ok=%v", tc.o, err, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalidOptions) {
			t.Errorf("%+v.Validate() = %v, not ErrInvalidOptions", tc.o, err)
		}
	}
	if d := DefaultOptions(); d.SlotCount != 5_000_000 || d.MaxEntries != 20_000_000 {
		t.Errorf("DefaultOptions() = %+v", d)
	}
}

func TestFileNames(t *testing.T) {
	loc := time.FixedZone("UTC+8", 8*3600)
	t0 := time.Date(2024, 1, 31, 23, 59, 59, 123_456_789, loc)
	if got := FormatName(t0); got != "20240131235959123" {
		t.Fatalf("FormatName = %q", got)
	}
	if got := FormatName(time.Date(2024, 2, 1, 0, 0, 0, 7_000_000, loc)); got != "20240201000000007" {
		t.Fatalf("FormatName = %q", got)
	}
	for _, tc := range []struct {
		now  time.Time
		last string
		want string
	}{
		{t0, "", "20240131235959123"},
		{t0, "20240131235959122", "20240131235959123"},
		{t0, "20240131235959123", "20240131235959124"}, // same millisecond
		{t0, "20240131235959999", "20240201000000000"}, // clock went back, carry over a day
		{t0, "20241231235959999", "20250101000000000"},
	} {
		got, err := nextName(tc.now, tc.last)
		if err != nil || got != tc.want {
			t.Errorf("nextName(%v, %q) = %q, %v; want %q", tc.now, tc.last, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "2024013123595912", "202401312359591234", "2024013123595912x", "20241331235959123", "abc"} {
		if _, ok := parseName(bad); ok {
			t.Errorf("parseName(%q) ok", bad)
		}
	}
}

func TestTimeDiff(t *testing.T) {
	for _, tc := range []struct {
		ts, begin int64
		want      int32
	}{
		{5000, 0, 0},    // begin not set
		{5000, -1, 0},   // begin not positive
		{1000, 2000, 0}, // before begin: clamped
		{2999, 2000, 0}, // under a second
		{3000, 2000, 1}, //
		{3_602_000, 2000, 3600},
		{math.MaxInt64, 1, math.MaxInt32},
	} {
		if got := timeDiff(tc.ts, tc.begin); got != tc.want {
			t.Errorf("timeDiff(%d, %d) = %d, want %d", tc.ts, tc.begin, got, tc.want)
		}
	}
}
