package message

import "unicode/utf8"

// JavaStringHash returns Java's String.hashCode of s: the polynomial hash
// (base 31) over the string's UTF-16 code units. RocketMQ stores it as the tag
// hash in consume-queue units and keys its index files by it, so it must match
// the JVM's value for every string, including characters outside the BMP.
func JavaStringHash(s string) int32 {
	var h int32
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			h = 31*h + int32(c)
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		i += n
		if r >= 0x10000 {
			r -= 0x10000
			h = 31*h + int32(0xD800+(r>>10))
			h = 31*h + int32(0xDC00+(r&0x3FF))
			continue
		}
		h = 31*h + int32(r)
	}
	return h
}

// TagsCode is the consume-queue tag hash of a TAGS value: Java's
// String.hashCode sign-extended to 64 bits, 0 for no tag.
func TagsCode(tags string) int64 {
	if tags == "" {
		return 0
	}
	return int64(JavaStringHash(tags))
}
