package protocol

import (
	"bytes"
	"strconv"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// decodeJSONFast decodes the JSON headers that clients actually send,
// without encoding/json: one object holding the known keys spelled in lower
// case, each at most once, integer numbers, strings, nulls, and extFields
// values that are strings or null; other keys only with string, integer,
// boolean or null values. On anything else it returns ok = false, and
// decodeJSONSlow decides, including what error to report. FuzzJSONHeader
// checks that the two agree.
func decodeJSONFast(b []byte) (c *Command, ok bool) {
	// One copy of the header as a string: every unescaped string in it is
	// a substring of that copy instead of an allocation of its own.
	p := jsonParser{b: b, s: string(b)}
	c, spare := newDecoded()
	p.ws()
	if !p.byte('{') {
		return nil, false
	}
	var seen uint8
	p.ws()
	if p.peek() == '}' {
		p.i++
	} else {
		for {
			p.ws()
			key, ok := p.str()
			if !ok {
				return nil, false
			}
			p.ws()
			if !p.byte(':') {
				return nil, false
			}
			p.ws()
			bit := uint8(0)
			switch key {
			case "code", "version", "opaque", "flag":
				n, ok := p.int32()
				if !ok {
					return nil, false
				}
				switch key {
				case "code":
					c.Code, bit = n, 1
				case "version":
					c.Version, bit = n, 2
				case "opaque":
					c.Opaque, bit = n, 4
				case "flag":
					c.Flag, bit = n, 8
				}
			case "language":
				bit = 16
				switch p.peek() {
				case '"':
					if c.Language, ok = p.str(); !ok {
						return nil, false
					}
				case 'n':
					if !p.lit("null") {
						return nil, false
					}
				default:
					n, ok := p.int32()
					if !ok {
						return nil, false
					}
					if n >= 0 && int(n) < len(languages) {
						c.Language = languages[n]
					}
				}
			case "remark":
				bit = 32
				if p.peek() == 'n' {
					if !p.lit("null") {
						return nil, false
					}
				} else if c.Remark, ok = p.str(); !ok {
					return nil, false
				}
			case "extFields":
				bit = 64
				if p.peek() == 'n' {
					if !p.lit("null") {
						return nil, false
					}
				} else if c.ExtFields, ok = p.ext(spare); !ok {
					return nil, false
				}
			default:
				// encoding/json matches keys case-insensitively.
				if foldsToField(key) || !p.skipScalar() {
					return nil, false
				}
			}
			if seen&bit != 0 {
				return nil, false // a repeated key: let encoding/json say what it means
			}
			seen |= bit
			p.ws()
			if p.byte('}') {
				break
			}
			if !p.byte(',') {
				return nil, false
			}
		}
	}
	p.ws()
	return c, p.i == len(p.b)
}

var fieldNames = [...]string{"code", "language", "version", "opaque", "flag", "remark", "extfields"}

// foldsToField reports whether encoding/json might match key to a header
// field: it compares names case-insensitively, folding some non-ASCII
// letters (the Kelvin sign) to ASCII ones.
func foldsToField(key string) bool {
	if !isASCII(key) {
		return true
	}
	for _, f := range fieldNames {
		if len(key) == len(f) && equalFoldASCII(key, f) {
			return true
		}
	}
	return false
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func equalFoldASCII(a, b string) bool {
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

var quote = []byte{'"'}

type jsonParser struct {
	b []byte
	s string // b as a string: unescaped strings are its substrings
	i int
}

func (p *jsonParser) peek() byte {
	if p.i < len(p.b) {
		return p.b[p.i]
	}
	return 0
}

func (p *jsonParser) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *jsonParser) byte(c byte) bool {
	if p.peek() == c {
		p.i++
		return true
	}
	return false
}

func (p *jsonParser) lit(s string) bool {
	if len(p.b)-p.i >= len(s) && string(p.b[p.i:p.i+len(s)]) == s {
		p.i += len(s)
		return true
	}
	return false
}

// int32 reads an integer literal: -?(0|[1-9][0-9]*), not followed by a
// fraction or exponent.
func (p *jsonParser) int32() (int32, bool) {
	start := p.i
	p.byte('-')
	d := p.i
	for p.i < len(p.b) && '0' <= p.b[p.i] && p.b[p.i] <= '9' {
		p.i++
	}
	if p.i == d || (p.b[d] == '0' && p.i-d > 1) {
		return 0, false
	}
	if c := p.peek(); c == '.' || c == 'e' || c == 'E' {
		return 0, false
	}
	n, err := strconv.ParseInt(string(p.b[start:p.i]), 10, 32)
	return int32(n), err == nil
}

// skipScalar skips a string, an integer, true, false or null.
func (p *jsonParser) skipScalar() bool {
	switch p.peek() {
	case '"':
		_, ok := p.str()
		return ok
	case 't':
		return p.lit("true")
	case 'f':
		return p.lit("false")
	case 'n':
		return p.lit("null")
	default:
		_, ok := p.int32()
		return ok
	}
}

// ext reads an object of strings and nulls; nulls are left out, and an
// object with no strings is nil. The strings go in spare (empty) when it
// is not nil.
func (p *jsonParser) ext(spare map[string]string) (map[string]string, bool) {
	if !p.byte('{') {
		return nil, false
	}
	var m map[string]string
	p.ws()
	if p.byte('}') {
		return nil, true
	}
	for {
		p.ws()
		k, ok := p.str()
		if !ok {
			return nil, false
		}
		p.ws()
		if !p.byte(':') {
			return nil, false
		}
		p.ws()
		if p.peek() == 'n' {
			if !p.lit("null") {
				return nil, false
			}
			if _, dup := m[k]; dup {
				return nil, false // null after a value: encoding/json keeps the value
			}
		} else {
			v, ok := p.str()
			if !ok {
				return nil, false
			}
			if m == nil && spare != nil {
				m = spare
			} else if m == nil {
				// Every entry takes at least four quotes: size the map
				// for the entries there may be, at most 16.
				m = make(map[string]string, min(16, 1+bytes.Count(p.b[p.i:], quote)/4))
			}
			m[k] = v
		}
		p.ws()
		if p.byte('}') {
			return m, true
		}
		if !p.byte(',') {
			return nil, false
		}
	}
}

// str reads a JSON string, unescaped as encoding/json does: invalid UTF-8
// and lone surrogates become U+FFFD.
func (p *jsonParser) str() (string, bool) {
	if !p.byte('"') {
		return "", false
	}
	start := p.i
	for p.i < len(p.b) {
		c := p.b[p.i]
		if plain[c] {
			p.i++
			continue
		}
		switch {
		case c == '"':
			s := p.s[start:p.i]
			p.i++
			return s, true
		case c == '\\' || c >= utf8.RuneSelf:
			return p.strSlow(start)
		default: // a control character
			return "", false
		}
	}
	return "", false
}

// plain is true for the bytes a JSON string holds as they are: not '"',
// '\\', a control character or a byte of a multi-byte UTF-8 sequence.
var plain = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

func (p *jsonParser) strSlow(start int) (string, bool) {
	var buf [512]byte // properties fit, without an allocation of their own
	out := append(buf[:0], p.b[start:p.i]...)
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			p.i++
			return string(out), true
		case c < 0x20:
			return "", false
		case c == '\\':
			p.i++
			if p.i >= len(p.b) {
				return "", false
			}
			e := p.b[p.i]
			p.i++
			switch e {
			case '"', '\\', '/':
				out = append(out, e)
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'u':
				r, ok := p.hex4()
				if !ok {
					return "", false
				}
				if utf16.IsSurrogate(r) {
					if p.i+1 < len(p.b) && p.b[p.i] == '\\' && p.b[p.i+1] == 'u' {
						save := p.i
						p.i += 2
						r2, ok := p.hex4()
						if !ok {
							return "", false
						}
						if d := utf16.DecodeRune(r, r2); d != unicode.ReplacementChar {
							out = utf8.AppendRune(out, d)
							continue
						}
						p.i = save // r2 stands on its own
					}
					r = unicode.ReplacementChar
				}
				out = utf8.AppendRune(out, r)
			default:
				return "", false
			}
		case c < utf8.RuneSelf:
			run := p.i + 1
			for run < len(p.b) && plain[p.b[run]] {
				run++
			}
			out = append(out, p.b[p.i:run]...)
			p.i = run
		default:
			r, size := utf8.DecodeRune(p.b[p.i:])
			p.i += size
			out = utf8.AppendRune(out, r)
		}
	}
	return "", false
}

func (p *jsonParser) hex4() (rune, bool) {
	if len(p.b)-p.i < 4 {
		return 0, false
	}
	var r rune
	for _, c := range p.b[p.i : p.i+4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	p.i += 4
	return r, true
}
