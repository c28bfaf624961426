package message

import (
	"testing"
	"testing/quick"
	"unicode/utf16"
)

// javaHashNaive is String.hashCode spelled out: s[0]*31^(n-1) + … + s[n-1]
// over UTF-16 code units, with int32 overflow.
func javaHashNaive(s string) int32 {
	var h int32
	for _, u := range utf16.Encode([]rune(s)) {
		h = 31*h + int32(u)
	}
	return h
}

func TestJavaStringHash(t *testing.T) {
	tests := []struct {
		s    string
		want int32
	}{
		{"", 0},
		{"a", 97},
		{"hello", 99162322},
		// ((84·31 + 97)·31 + 103)·31 + 65
		{"TagA", 2598919},
		{"Aa", 2112},
		{"BB", 2112},
		// Overflows to exactly Integer.MIN_VALUE in Java.
		{"polygenelubricants", -2147483648},
		{"é", 0xE9},
		{"中", 0x4E2D},
		// U+1F600 is the surrogate pair D83D DE00: 31·0xD83D + 0xDE00.
		{"😀", 31*0xD83D + 0xDE00},
		{"😀", 1772899},
		{"a😀", 97*31*31 + 31*0xD83D + 0xDE00},
		// Invalid UTF-8 reads as U+FFFD per bad byte.
		{"\xff", 0xFFFD},
	}
	for _, tc := range tests {
		if got := JavaStringHash(tc.s); got != tc.want {
			t.Errorf("JavaStringHash(%q) = %d, want %d", tc.s, got, tc.want)
		}
	}
}

func TestJavaStringHashMatchesNaive(t *testing.T) {
	f := func(s string) bool { return JavaStringHash(s) == javaHashNaive(s) }
	if err := quick.Check(f, &quick.Config{MaxCount: 5000}); err != nil {
		t.Error(err)
	}
	for _, s := range []string{"TagA||TagB", "\U0010FFFF", "\uFFFF", "x\U00010000y", "\xed\xa0\x80"} {
		if !f(s) {
			t.Errorf("JavaStringHash(%q) = %d, naive %d", s, JavaStringHash(s), javaHashNaive(s))
		}
	}
}

func TestTagsCode(t *testing.T) {
	for _, c := range []struct {
		tags string
		want int64
	}{
		{"", 0},
		{"TagA", 2598919},
		{"hello", 99162322},
		{"polygenelubricants", -2147483648}, // sign-extended, not 1<<31
	} {
		if got := TagsCode(c.tags); got != c.want {
			t.Errorf("TagsCode(%q) = %d, want %d", c.tags, got, c.want)
		}
	}
}
