package store

import (
	"bytes"
	"context"
	"testing"

	"github.com/quiver-mq/quiver/internal/message"
)

// oddFilter keeps records whose body ends in an odd digit.
type oddFilter struct{}

func (oddFilter) MatchTagsCode(int64) bool { return true }
func (oddFilter) MatchRecord(rec []byte) bool {
	m, _, err := message.Decode(rec, false)
	return err == nil && (m.Body[10]-'0')%2 == 1 // "body-%06d-…"
}

// A PULL sends GetResult.Buf as its body, so Buf must hold exactly the
// records served, back to back, also when a filter drops some between
// them, and whatever the byte and message limits.
func TestGetMessagesBufIsTheRecordsBackToBack(t *testing.T) {
	s := openStore(t, testOptions(t, nil))
	defer s.Close()
	ctx := context.Background()
	for i := range 200 {
		if _, err := s.Put(ctx, newMsg("T", 0, i, nil)); err != nil {
			t.Fatal(err)
		}
	}
	waitDispatched(t, s)
	for _, tc := range []struct {
		name             string
		maxMsgs, maxByte int
		f                Filter
	}{
		{"all", 32, 0, nil},
		{"few bytes", 32, 1000, nil},
		{"one", 1, 0, nil},
		{"filtered", 32, 0, oddFilter{}},
		{"many", 1024, 1 << 20, nil},
	} {
		for off := int64(0); off < 200; {
			r, err := s.GetMessages("T", 0, off, tc.maxMsgs, tc.maxByte, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			if r.Status != Found && r.Status != NoMatchedMessage {
				t.Fatalf("%s at %d: status %v", tc.name, off, r.Status)
			}
			if joined := bytes.Join(r.Records, nil); !bytes.Equal(joined, r.Buf) {
				t.Fatalf("%s at %d: Buf (%d bytes) is not the %d records (%d bytes)", tc.name, off, len(r.Buf), len(r.Records), len(joined))
			}
			if len(r.Records) > tc.maxMsgs {
				t.Fatalf("%s: %d records, max %d", tc.name, len(r.Records), tc.maxMsgs)
			}
			off = r.NextBeginOffset
		}
	}
}
