package message

import (
	"bytes"
	"maps"
	"slices"
	"strings"
)

// Property separators (frozen).
const (
	NameValueSeparator = '\x01'
	PropertySeparator  = '\x02'
)

// Property keys used by the store (MessageConst).
const (
	PropertyKeys         = "KEYS"
	PropertyTags         = "TAGS"
	PropertyUniqKey      = "UNIQ_KEY"
	PropertyWaitStoreMsg = "WAIT"
	PropertyDelayLevel   = "DELAY"
	PropertyRealTopic    = "REAL_TOPIC"
	PropertyRealQueueID  = "REAL_QID"
	PropertyClusterName  = "CLUSTER"

	// Timer messages (RocketMQ 5.x MessageConst, see package timer).
	PropertyTimerDeliverMs  = "TIMER_DELIVER_MS"  // absolute deliver time, ms
	PropertyTimerDelaySec   = "TIMER_DELAY_SEC"   // delay from the put, s
	PropertyTimerDelayMs    = "TIMER_DELAY_MS"    // delay from the put, ms
	PropertyTimerOutMs      = "TIMER_OUT_MS"      // the wheel slot's start, ms
	PropertyTimerDelUniqKey = "TIMER_DEL_UNIQKEY" // a recall marker's "<topic>+<uniqKey>"
	PropertyTimerEnqueueMs  = "TIMER_ENQUEUE_MS"
	PropertyTimerDequeueMs  = "TIMER_DEQUEUE_MS"
	PropertyTimerRollTimes  = "TIMER_ROLL_TIMES"
	KeySeparator            = " "
)

// EncodeProperties encodes props as RocketMQ does: name 0x01 value 0x02 for
// every pair with a non-empty name and value, in sorted name order (any order
// is valid; sorting makes encoding deterministic). Like Java it does not
// check the separators: a name holding 0x01 or 0x02, or a value holding 0x02,
// does not decode back to the same pair.
func EncodeProperties(props map[string]string) []byte {
	return AppendProperties(nil, props)
}

// AppendProperties appends the encoding of props to dst.
func AppendProperties(dst []byte, props map[string]string) []byte {
	for _, k := range slices.Sorted(maps.Keys(props)) {
		v := props[k]
		if k == "" || v == "" {
			continue
		}
		dst = append(dst, k...)
		dst = append(dst, NameValueSeparator)
		dst = append(dst, v...)
		dst = append(dst, PropertySeparator)
	}
	return dst
}

// DecodeProperties parses encoded properties. Like the Java reader
// (MessageDecoder.string2messageProperties) it splits on 0x02, splits each
// piece at its first 0x01 and skips pieces where that 0x01 is missing, first
// or last; a value may hold further 0x01 bytes, and a repeated name keeps its
// last value. It never fails.
func DecodeProperties(b []byte) map[string]string {
	props := make(map[string]string)
	for len(b) > 0 {
		piece := b
		if i := bytes.IndexByte(b, PropertySeparator); i >= 0 {
			piece, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		if i := bytes.IndexByte(piece, NameValueSeparator); i > 0 && i < len(piece)-1 {
			props[string(piece[:i])] = string(piece[i+1:])
		}
	}
	return props
}

// Property returns the value of one property without decoding the rest. It
// agrees with DecodeProperties: pieces the Java reader skips never match, the
// name ends at the first 0x01 of a piece, and when a name repeats the last
// value wins.
func Property(b []byte, name string) (string, bool) {
	var val []byte
	found := false
	for len(b) > 0 {
		piece := b
		if i := bytes.IndexByte(b, PropertySeparator); i >= 0 {
			piece, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		if i := bytes.IndexByte(piece, NameValueSeparator); i > 0 && i < len(piece)-1 && string(piece[:i]) == name {
			val, found = piece[i+1:], true
		}
	}
	return string(val), found
}

// PropertyString is Property on properties held in a string; the value is
// a substring of props, not a copy.
func PropertyString(props, name string) (string, bool) {
	val, found := "", false
	for len(props) > 0 {
		piece := props
		if i := strings.IndexByte(props, PropertySeparator); i >= 0 {
			piece, props = props[:i], props[i+1:]
		} else {
			props = ""
		}
		if i := strings.IndexByte(piece, NameValueSeparator); i > 0 && i < len(piece)-1 && piece[:i] == name {
			val, found = piece[i+1:], true
		}
	}
	return val, found
}

// Keys splits a KEYS property into its space-separated tokens.
func Keys(keys string) []string {
	return strings.Fields(keys)
}

// PropertyEdit sets a property to value, or removes it when value is empty.
type PropertyEdit struct{ Name, Value string }

// EditProperties applies edits to encoded properties, keeping the order of
// the others. An edited property keeps its place (its first occurrence; a
// repeat is dropped); a new one goes at the end. Pieces the Java reader
// skips (no name or no value) are dropped, as Java's decode-then-encode
// would.
func EditProperties(props []byte, edits ...PropertyEdit) []byte {
	out := make([]byte, 0, len(props)+64)
	done := make([]bool, len(edits))
	for len(props) > 0 {
		piece := props
		if i := bytes.IndexByte(props, PropertySeparator); i >= 0 {
			piece, props = props[:i], props[i+1:]
		} else {
			props = nil
		}
		i := bytes.IndexByte(piece, NameValueSeparator)
		if i <= 0 || i == len(piece)-1 {
			continue
		}
		k := -1
		for j, e := range edits {
			if string(piece[:i]) == e.Name {
				k = j
				break
			}
		}
		switch {
		case k < 0:
			out = append(out, piece...)
			out = append(out, PropertySeparator)
		case edits[k].Value != "" && !done[k]:
			out = appendProperty(out, edits[k])
			done[k] = true
		}
	}
	for k, e := range edits {
		if e.Value != "" && !done[k] {
			out = appendProperty(out, e)
		}
	}
	return out
}

func appendProperty(dst []byte, e PropertyEdit) []byte {
	dst = append(dst, e.Name...)
	dst = append(dst, NameValueSeparator)
	dst = append(dst, e.Value...)
	return append(dst, PropertySeparator)
}
