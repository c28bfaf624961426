package txn

import (
	"slices"
	"testing"
)

// FuzzParseOpBody: op record bodies come from disk; parsing never panics,
// yields only offsets that were written, and reads back what OpMessage
// writes.
func FuzzParseOpBody(f *testing.F) {
	for _, s := range []string{"17,", "17,18,", "17", "", ",,", "x,3,-1,", "9223372036854775807,", "99999999999999999999,"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got := ParseOpBody(body)
		for _, o := range got {
			if o < 0 {
				t.Fatalf("negative offset %d from %q", o, body)
			}
		}
		again := ParseOpBody(OpMessage(0, got, 0, born).Body)
		if !slices.Equal(got, again) {
			t.Fatalf("%v re-encoded reads back as %v", got, again)
		}
	})
}
