package config

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Property is one key and value of a properties file.
type Property struct {
	Key   string
	Value string // unescaped and trimmed
	Line  int    // 1-based line where the property starts
}

// ParseProperties reads a Java properties file (see the package comment
// for the syntax) and returns its properties in file order, duplicates
// included. source names the input in errors. The only syntax error is a
// malformed \uXXXX escape (or a failure to read r); it is an *Error
// wrapping ErrSyntax.
func ParseProperties(r io.Reader, source string) ([]Property, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, &Error{Source: source, Kind: ErrSyntax, Msg: fmt.Sprintf("read: %v", err)}
	}
	var props []Property
	p := lineReader{data: string(data)}
	for {
		logical, line, ok := p.next()
		if !ok {
			return props, nil
		}
		rawKey, rawValue := splitKeyValue(logical)
		key, err := unescape(rawKey)
		if err != nil {
			return nil, &Error{Source: source, Line: line, Kind: ErrSyntax, Msg: err.Error()}
		}
		value, err := unescape(rawValue)
		if err != nil {
			return nil, &Error{Source: source, Line: line, Key: key, Kind: ErrSyntax, Msg: err.Error()}
		}
		props = append(props, Property{Key: key, Value: strings.TrimSpace(value), Line: line})
	}
}

// isBlank reports the characters Java's Properties treats as white space.
func isBlank(c byte) bool { return c == ' ' || c == '\t' || c == '\f' }

// lineReader splits the input into logical lines (java.util.Properties
// LineReader): natural lines joined at continuations, with comment and
// blank lines dropped and leading white space removed.
type lineReader struct {
	data string
	pos  int
	line int // natural lines consumed
}

// natural returns the next natural line without its terminator.
func (r *lineReader) natural() (string, bool) {
	if r.pos >= len(r.data) {
		return "", false
	}
	rest := r.data[r.pos:]
	end := strings.IndexAny(rest, "\r\n")
	r.line++
	if end < 0 {
		r.pos = len(r.data)
		return rest, true
	}
	r.pos += end + 1
	if rest[end] == '\r' && end+1 < len(rest) && rest[end+1] == '\n' {
		r.pos++
	}
	return rest[:end], true
}

// next returns the next logical line with escapes still in place, and the
// number of the natural line it starts on.
func (r *lineReader) next() (string, int, bool) {
	for {
		s, ok := r.natural()
		if !ok {
			return "", 0, false
		}
		s = strings.TrimLeft(s, " \t\f")
		if s == "" || s[0] == '#' || s[0] == '!' {
			continue
		}
		start := r.line
		var b strings.Builder
		for continues(s) {
			b.WriteString(s[:len(s)-1])
			next, ok := r.natural()
			if !ok {
				s = ""
				break
			}
			s = strings.TrimLeft(next, " \t\f")
		}
		if b.Len() == 0 {
			return s, start, true
		}
		b.WriteString(s)
		return b.String(), start, true
	}
}

// continues reports whether s ends in an odd number of backslashes.
func continues(s string) bool {
	n := 0
	for i := len(s) - 1; i >= 0 && s[i] == '\\'; i-- {
		n++
	}
	return n%2 == 1
}

// splitKeyValue splits a logical line at the first unescaped '=', ':' or
// blank; blanks around the separator belong to neither part.
func splitKeyValue(s string) (key, value string) {
	i := 0
	for i < len(s) {
		c := s[i]
		if c == '\\' {
			i += 2
			continue
		}
		if c == '=' || c == ':' || isBlank(c) {
			break
		}
		i++
	}
	if i > len(s) {
		i = len(s)
	}
	key = s[:i]
	j := i
	for j < len(s) && isBlank(s[j]) {
		j++
	}
	if j < len(s) && (s[j] == '=' || s[j] == ':') {
		j++
		for j < len(s) && isBlank(s[j]) {
			j++
		}
	}
	return key, s[j:]
}

// unescape resolves \t \n \r \f \uXXXX and \<c> (→ c). A lone backslash at
// the end is dropped, as in Java.
func unescape(s string) (string, error) {
	if !strings.Contains(s, `\`) {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			b.WriteByte(c)
			continue
		}
		i++
		if i >= len(s) {
			break
		}
		switch c = s[i]; c {
		case 't':
			b.WriteByte('\t')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 'f':
			b.WriteByte('\f')
		case 'u':
			r, err := hex4(s, i+1)
			if err != nil {
				return "", err
			}
			i += 4
			if utf16.IsSurrogate(r) && i+6 < len(s) && s[i+1] == '\\' && s[i+2] == 'u' {
				if r2, err := hex4(s, i+3); err == nil {
					if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
						r = d
						i += 6
					}
				}
			}
			b.WriteRune(r)
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

// hex4 decodes the four hex digits of a \uXXXX escape starting at s[i].
func hex4(s string, i int) (rune, error) {
	if i+4 > len(s) {
		return 0, fmt.Errorf("malformed \\uxxxx encoding %q", s[i-2:])
	}
	var r rune
	for _, c := range []byte(s[i : i+4]) {
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, fmt.Errorf("malformed \\uxxxx encoding %q", s[i-2:i+4])
		}
		r = r<<4 | rune(d)
	}
	return r, nil
}
