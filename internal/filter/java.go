package filter

import (
	"math"
	"strconv"
	"unicode"
	"unicode/utf8"
)

// This file reproduces the java.lang conversions RocketMQ's filter leans on
// when it compares a property (always a string) with a constant:
// Integer.valueOf, Long.valueOf, Double.valueOf, Boolean.valueOf and
// Double.compare. None of them allocates.

// parseJavaInt is Integer.parseInt(s, 10) (bits 32) or Long.parseLong(s, 10)
// (bits 64): an optional '+' or '-', then one or more decimal digits, with no
// surrounding space. Java takes any Unicode decimal digit of the Basic
// Multilingual Plane ('٣' is 3); digits outside it are two UTF-16 units in
// Java and never parse.
func parseJavaInt(s string, bits int) (int64, bool) {
	if s == "" {
		return 0, false
	}
	neg := false
	i := 0
	switch s[0] {
	case '-':
		neg = true
		i = 1
	case '+':
		i = 1
	}
	if i == len(s) {
		return 0, false
	}
	// Accumulate negatively as Java does, so the most negative value fits.
	limit := int64(-math.MaxInt64)
	if bits == 32 {
		limit = -math.MaxInt32
	}
	if neg {
		limit--
	}
	var n int64
	for i < len(s) {
		d, size := javaDigit(s[i:])
		if d < 0 {
			return 0, false
		}
		i += size
		if n < limit/10 {
			return 0, false
		}
		n *= 10
		if n < limit+int64(d) {
			return 0, false
		}
		n -= int64(d)
	}
	if neg {
		return n, true
	}
	return -n, true
}

// javaDigit is Character.digit(c, 10) for the character at the start of s:
// its value, or -1, and the number of bytes it takes.
func javaDigit(s string) (int, int) {
	c := s[0]
	if c < utf8.RuneSelf {
		if '0' <= c && c <= '9' {
			return int(c - '0'), 1
		}
		return -1, 1
	}
	r, size := utf8.DecodeRuneInString(s)
	if r > 0xFFFF || !unicode.Is(unicode.Nd, r) {
		return -1, size
	}
	// Decimal digits come in runs of ten starting at zero; in the BMP no two
	// runs touch, so the value is the distance back to the run's start.
	d := 0
	for d < 9 && unicode.Is(unicode.Nd, r-rune(d)-1) {
		d++
	}
	return d, size
}

// parseJavaDouble is Double.valueOf(s): surrounding characters up to U+0020
// are trimmed, then it takes an optional sign and "NaN", "Infinity", a
// decimal number with an optional exponent, or a hexadecimal one with a
// binary exponent ("0x1.8p1"); either number may end in one of "fFdD".
func parseJavaDouble(s string) (float64, bool) {
	s = javaTrim(s)
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	if i == len(s) {
		return 0, false
	}
	switch rest := s[i:]; {
	case rest == "NaN":
		return math.NaN(), true
	case rest == "Infinity":
		if s[0] == '-' {
			return math.Inf(-1), true
		}
		return math.Inf(1), true
	case len(rest) > 1 && rest[0] == '0' && (rest[1] == 'x' || rest[1] == 'X'):
		return parseJavaHexDouble(s, i+2)
	}
	// Decimal: digits with at most one point, at least one digit.
	digits := 0
	point := false
	for ; i < len(s); i++ {
		c := s[i]
		if '0' <= c && c <= '9' {
			digits++
		} else if c == '.' && !point {
			point = true
		} else {
			break
		}
	}
	if digits == 0 {
		return 0, false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		start := i
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
		}
		if i == start {
			return 0, false
		}
	}
	return finishJavaDouble(s, i)
}

// parseJavaHexDouble continues parseJavaDouble after "0x", at s[i]: Java's
// pattern is hex digits with an optional point (at least one digit), then
// [pP], an optional sign and decimal digits.
func parseJavaHexDouble(s string, i int) (float64, bool) {
	digits := 0
	point := false
	for ; i < len(s); i++ {
		c := s[i]
		if isHexDigit(c) {
			digits++
		} else if c == '.' && !point {
			point = true
		} else {
			break
		}
	}
	if digits == 0 || i == len(s) || (s[i] != 'p' && s[i] != 'P') {
		return 0, false
	}
	i++
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	start := i
	for i < len(s) && '0' <= s[i] && s[i] <= '9' {
		i++
	}
	if i == start {
		return 0, false
	}
	return finishJavaDouble(s, i)
}

// finishJavaDouble accepts s[:i] as a number if what follows is nothing or
// one type suffix.
func finishJavaDouble(s string, i int) (float64, bool) {
	switch {
	case i == len(s):
	case i == len(s)-1 && (s[i] == 'f' || s[i] == 'F' || s[i] == 'd' || s[i] == 'D'):
	default:
		return 0, false
	}
	// The syntax is checked; strconv agrees with Java on every string that
	// passes and rounds the same way. It reports overflow as an error with
	// ±Inf, which is what Java returns.
	f, err := strconv.ParseFloat(s[:i], 64)
	if err != nil && !math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}

func isHexDigit(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// javaTrim is String.trim: it drops leading and trailing characters up to
// U+0020. No byte of a multi-byte UTF-8 sequence is that small.
func javaTrim(s string) string {
	for len(s) > 0 && s[0] <= ' ' {
		s = s[1:]
	}
	for len(s) > 0 && s[len(s)-1] <= ' ' {
		s = s[:len(s)-1]
	}
	return s
}

// parseJavaBoolean is Boolean.valueOf(s): true for "true" in any case,
// false for everything else.
func parseJavaBoolean(s string) bool {
	if len(s) != 4 {
		return false
	}
	for i := range 4 {
		if s[i]|0x20 != "true"[i] {
			return false
		}
	}
	return true
}

// compareJavaDouble is Double.compare: numeric order, except that -0.0 is
// below 0.0 and NaN is above everything, +Inf included, and equal to itself.
func compareJavaDouble(a, b float64) int {
	if a < b {
		return -1
	}
	if a > b {
		return 1
	}
	ab, bb := javaDoubleBits(a), javaDoubleBits(b)
	switch {
	case ab == bb:
		return 0
	case ab < bb:
		return -1
	default:
		return 1
	}
}

// javaDoubleBits is Double.doubleToLongBits: the bits, with every NaN
// collapsed to one.
func javaDoubleBits(f float64) int64 {
	if f != f {
		return 0x7ff8000000000000
	}
	return int64(math.Float64bits(f))
}

func compareInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
