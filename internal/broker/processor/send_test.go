package processor

import (
	"testing"

	"github.com/quiver-mq/quiver/internal/protocol"
)

// The V2 header read in place gives what decodeSendHeader gives, also for
// absent fields (their defaults), and a bad field still fails naming its
// V1 name.
func TestSendHeaderOfAgreesWithDecodeSendHeader(t *testing.T) {
	full := map[string]string{
		"a": "PG", "b": "TopicA", "c": "TBW102", "d": "8", "e": "3", "f": "4", "g": "1700000000123",
		"h": "7", "i": "TAGS\x01t\x02", "j": "2", "k": "false", "l": "16", "m": "true", "n": "broker-a",
	}
	for _, tc := range []struct {
		name string
		code int32
		ext  map[string]string
	}{
		{"v2 full", protocol.SendMessageV2, full},
		{"v2 minimal", protocol.SendMessageV2, map[string]string{"b": "TopicA"}},
		{"batch", protocol.SendBatchMessage, full},
		{"v1", protocol.SendMessage, map[string]string{"topic": "TopicA", "queueId": "2", "producerGroup": "PG"}},
	} {
		req := protocol.NewRequest(tc.code, tc.ext)
		got, err := sendHeaderOf(req)
		want, werr := decodeSendHeader(req)
		if err != nil || werr != nil || got != want {
			t.Errorf("%s: got %+v (%v), want %+v (%v)", tc.name, got, err, want, werr)
		}
	}
	for _, ext := range []map[string]string{{"e": "3"}, {"b": "T", "e": "x"}} {
		_, err := sendHeaderOf(protocol.NewRequest(protocol.SendMessageV2, ext))
		_, werr := decodeSendHeader(protocol.NewRequest(protocol.SendMessageV2, ext))
		if err == nil || werr == nil || err.Error() != werr.Error() {
			t.Errorf("%v: error %v, want %v", ext, err, werr)
		}
	}
}

func BenchmarkSendHeaderOf(b *testing.B) {
	req := protocol.NewRequest(protocol.SendMessageV2, map[string]string{
		"a": "PG", "b": "TopicA", "c": "TBW102", "d": "8", "e": "3", "f": "4", "g": "1700000000123",
		"h": "7", "i": "TAGS\x01t\x02", "j": "2", "k": "false", "l": "16", "m": "true", "n": "broker-a",
	})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := sendHeaderOf(req); err != nil {
			b.Fatal(err)
		}
	}
}
