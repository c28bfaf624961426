package routes

import (
	"errors"
	"fmt"
)

// maxDepth bounds the nesting QuoteBareKeys accepts, as encoding/json does.
const maxDepth = 10000

// QuoteBareKeys returns b with every bare object key quoted: fastjson's
// {0:"a",1:"b"} becomes {"0":"a","1":"b"}. A bare key is a run of letters,
// digits and "_$+-." where a key is expected. Valid JSON comes back
// unchanged (the same slice). QuoteBareKeys fails only on unbalanced
// brackets, an unterminated string, nesting deeper than 10000 or a byte
// that can start neither a key nor a structural token where a key belongs;
// everything else is left for the JSON decoder to judge.
func QuoteBareKeys(b []byte) ([]byte, error) {
	var (
		out       []byte // nil until the first bare key
		last      int    // b[last:] is not yet copied to out
		stack     []byte
		expectKey bool
	)
	for i := 0; i < len(b); {
		c := b[i]
		switch c {
		case '"':
			j, err := skipString(b, i)
			if err != nil {
				return nil, err
			}
			i, expectKey = j, false
			continue
		case '{', '[':
			if len(stack) >= maxDepth {
				return nil, fmt.Errorf("nesting deeper than %d", maxDepth)
			}
			stack = append(stack, c)
			expectKey = c == '{'
		case '}', ']':
			open := byte('{')
			if c == ']' {
				open = '['
			}
			if len(stack) == 0 || stack[len(stack)-1] != open {
				return nil, fmt.Errorf("unbalanced %q at offset %d", c, i)
			}
			stack = stack[:len(stack)-1]
			expectKey = false
		case ',':
			expectKey = len(stack) > 0 && stack[len(stack)-1] == '{'
		case ':':
			expectKey = false
		case ' ', '\t', '\n', '\r':
		default:
			if !expectKey {
				break
			}
			j := i
			for j < len(b) && isBareKeyByte(b[j]) {
				j++
			}
			if j == i {
				return nil, fmt.Errorf("unexpected %q where an object key belongs, offset %d", c, i)
			}
			out = append(out, b[last:i]...)
			out = append(out, '"')
			out = append(out, b[i:j]...)
			out = append(out, '"')
			i, last, expectKey = j, j, false
			continue
		}
		i++
	}
	if out == nil {
		return b, nil
	}
	return append(out, b[last:]...), nil
}

var errUnterminated = errors.New("unterminated string")

// skipString returns the offset just past the string starting at b[i] == '"'.
func skipString(b []byte, i int) (int, error) {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1, nil
		}
	}
	return 0, errUnterminated
}

func isBareKeyByte(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' ||
		c == '_' || c == '$' || c == '+' || c == '-' || c == '.'
}
