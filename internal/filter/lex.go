package filter

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// tokKind is a token of RocketMQ's selector grammar (SelectorParser.jj).
type tokKind uint8

const (
	tEOF tokKind = iota
	// Keywords, matched without regard to case.
	tNot
	tAnd
	tOr
	tBetween
	tIn
	tTrue
	tFalse
	tNull
	tIs
	tContains
	tStartsWith
	tEndsWith
	// Literals and names.
	tDecimal
	tFloat
	tString
	tIdent
	// Punctuation.
	tEq     // =
	tNe     // <>
	tGt     // >
	tGe     // >=
	tLt     // <
	tLe     // <=
	tLParen // (
	tComma  // ,
	tRParen // )
	tPlus   // +
	tMinus  // -
)

var keywords = [...]struct {
	word string
	kind tokKind
}{
	{"NOT", tNot}, {"AND", tAnd}, {"OR", tOr}, {"BETWEEN", tBetween},
	{"IN", tIn}, {"TRUE", tTrue}, {"FALSE", tFalse}, {"NULL", tNull},
	{"IS", tIs}, {"CONTAINS", tContains}, {"STARTSWITH", tStartsWith},
	{"ENDSWITH", tEndsWith},
}

var punct = [...]string{
	tEq: "=", tNe: "<>", tGt: ">", tGe: ">=", tLt: "<", tLe: "<=",
	tLParen: "(", tComma: ",", tRParen: ")", tPlus: "+", tMinus: "-",
}

// token is one lexed token: its kind, the byte range of its text, and for a
// string its decoded value.
type token struct {
	kind     tokKind
	pos, end int
	str      string // tString: the value, quotes removed and '' undone
}

// describe names t for an error message.
func (t token) describe(src string) string {
	text := src[t.pos:t.end]
	switch {
	case t.kind == tEOF:
		return "end of expression"
	case t.kind <= tEndsWith:
		return strings.ToUpper(text)
	case t.kind == tDecimal || t.kind == tFloat:
		return "number " + text
	case t.kind == tString:
		return "string " + clip(text)
	case t.kind == tIdent:
		return "property name " + clip(text)
	}
	return `"` + text + `"`
}

// clip shortens long token text in messages.
func clip(s string) string {
	const max = 40
	if len(s) <= max {
		return s
	}
	i := max
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}

// lexer turns the expression into tokens on demand. Java's generated parser
// asks its token manager for a token only when a rule needs to look at it, so
// text after the last token the grammar reads is never examined; the parser
// here asks in the same places and the lexer must not run ahead.
type lexer struct {
	src string
	pos int
	// noBreak is an offset with no line break at or after it, once one is
	// known: a "--" after it is two minus signs without another search.
	noBreak int
}

// next lexes the token at l.pos. It follows JavaCC's rules: the longest
// match wins, and a keyword beats a name of the same length.
func (l *lexer) next() (token, *CompileError) {
	s := l.src
	i := l.pos
	// White space and comments.
	for i < len(s) {
		switch c := s[i]; {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f':
			i++
			continue
		case c == '-' && i+1 < len(s) && s[i+1] == '-':
			// A line comment must end with a line break; without one the
			// longest match is the "-" token.
			if l.noBreak == 0 || i+2 < l.noBreak {
				if j := strings.IndexAny(s[i+2:], "\n\r"); j >= 0 {
					i += 2 + j + 1
					continue
				}
				l.noBreak = i + 2
			}
		case c == '/' && i+1 < len(s) && s[i+1] == '*':
			j := strings.Index(s[i+2:], "*/")
			if j < 0 {
				return token{}, errorAt(s, i, "unterminated comment: /* has no */")
			}
			i += 2 + j + 2
			continue
		}
		break
	}
	if i == len(s) {
		l.pos = i
		return token{kind: tEOF, pos: i, end: i}, nil
	}
	t := token{pos: i}
	c := s[i]
	switch {
	case isIdentStart(c):
		j := i + 1
		for j < len(s) && isIdentPart(s[j]) {
			j++
		}
		t.kind, t.end = tIdent, j
		for _, k := range keywords {
			if strings.EqualFold(s[i:j], k.word) {
				t.kind = k.kind
				break
			}
		}
	case '0' <= c && c <= '9' || c == '.' && i+1 < len(s) && isDigit(s[i+1]):
		t.kind, t.end = lexNumber(s, i)
	case c == '\'':
		end, ok := lexString(s, i)
		if !ok {
			return token{}, errorAt(s, i, "unterminated string constant: ' has no closing '")
		}
		t.kind, t.end = tString, end
		t.str = strings.ReplaceAll(s[i+1:end-1], "''", "'")
	case c == '=':
		t.kind, t.end = tEq, i+1
	case c == '<':
		t.kind, t.end = tLt, i+1
		if i+1 < len(s) {
			switch s[i+1] {
			case '>':
				t.kind, t.end = tNe, i+2
			case '=':
				t.kind, t.end = tLe, i+2
			}
		}
	case c == '>':
		t.kind, t.end = tGt, i+1
		if i+1 < len(s) && s[i+1] == '=' {
			t.kind, t.end = tGe, i+2
		}
	case c == '(':
		t.kind, t.end = tLParen, i+1
	case c == ',':
		t.kind, t.end = tComma, i+1
	case c == ')':
		t.kind, t.end = tRParen, i+1
	case c == '+':
		t.kind, t.end = tPlus, i+1
	case c == '-':
		t.kind, t.end = tMinus, i+1
	case c == '!' && i+1 < len(s) && s[i+1] == '=':
		return token{}, errorAt(s, i, `"!=" is not an operator here; write "<>"`)
	case c == '.' && i > 0 && isIdentPart(s[i-1]):
		return token{}, errorAt(s, i, "unexpected character '.': a property name holds only ASCII letters, digits, '_' and '$'")
	default:
		r, _ := utf8.DecodeRuneInString(s[i:])
		return token{}, errorAt(s, i, fmt.Sprintf("unexpected character %q", r))
	}
	l.pos = t.end
	return t, nil
}

// lexNumber returns the kind and end of the number at s[i], the longer of
//
//	DECIMAL_LITERAL: "0" | [1-9] [0-9]* [lL]?
//	FLOATING_POINT_LITERAL: [0-9]+ "." [0-9]* EXP? | "." [0-9]+ EXP? | [0-9]+ EXP
//	EXP: [eE] [+-]? [0-9]+
//
// so "007" is three tokens, "0", "0" and "7", while "007.5" is one.
func lexNumber(s string, i int) (tokKind, int) {
	j := i
	for j < len(s) && isDigit(s[j]) {
		j++
	}
	floatEnd := -1
	if j < len(s) && s[j] == '.' {
		k := j + 1
		for k < len(s) && isDigit(s[k]) {
			k++
		}
		if e := exponentEnd(s, k); e > 0 {
			k = e
		}
		if j > i || k > j+1 { // "." alone is no number
			floatEnd = k
		}
	} else if j > i {
		if e := exponentEnd(s, j); e > 0 {
			floatEnd = e
		}
	}
	decEnd := -1
	switch {
	case j == i:
	case s[i] == '0':
		decEnd = i + 1
	case j < len(s) && (s[j] == 'l' || s[j] == 'L'):
		decEnd = j + 1
	default:
		decEnd = j
	}
	if floatEnd > decEnd {
		return tFloat, floatEnd
	}
	return tDecimal, decEnd
}

// exponentEnd returns the end of an exponent starting at s[i], or -1.
func exponentEnd(s string, i int) int {
	if i >= len(s) || (s[i] != 'e' && s[i] != 'E') {
		return -1
	}
	i++
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	start := i
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	if i == start {
		return -1
	}
	return i
}

// lexString returns the end of the string constant opening at s[i]:
//
//	"'" ( "''" | ~["'"] )* "'"
//
// Inside, quotes come in runs. A run of odd length closes the string with its
// last quote. A run of even length is escaped quotes, but a longest match may
// also close the string on the run's second-to-last quote: when no later run
// closes the string before the end of the input, that is where JavaCC's token
// ends, so
//
//	'a''''
//
// lexes as a constant holding an a and a quote, then a lone quote.
func lexString(s string, i int) (end int, ok bool) {
	last := -1 // end of the longest valid constant seen so far
	j := i + 1
	for j < len(s) {
		if s[j] != '\'' {
			j++
			continue
		}
		k := j
		for k < len(s) && s[k] == '\'' {
			k++
		}
		if (k-j)%2 == 1 {
			return k, true
		}
		last = k - 1
		j = k
	}
	if last < 0 {
		return 0, false
	}
	return last, true
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isIdentStart(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_' || c == '$'
}

func isIdentPart(c byte) bool { return isIdentStart(c) || isDigit(c) }
