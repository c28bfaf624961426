package grpcserver

import (
	"testing"
	"time"
)

// TestRenewalsSwapInTheLatestHandle: a renewed handle replaces the client's
// stale one for the same message; another message's handle is left alone;
// entries fall due renewAhead before they expire.
func TestRenewalsSwapInTheLatestHandle(t *testing.T) {
	r := newRenewals()
	now := time.Now()
	h := handle{PopTime: now.UnixMilli(), InvisibleTime: 60_000, TopicType: topicNormal, BrokerName: "b", QueueID: 1, QueueOffset: 7, CommitLogOffset: 99}
	k := renewKey{"c", "g", "m"}
	r.add(k, "T", h)
	if d := r.due(now); len(d) != 0 {
		t.Fatalf("due at once: %v", d)
	}
	if d := r.due(now.Add(51 * time.Second)); len(d) != 1 {
		t.Fatalf("not due 9 s before expiry: %v", d)
	}
	nh := h
	nh.PopTime += 50_000
	r.update(k, h, nh)
	other := h
	other.QueueOffset = 8
	if got, ok := r.take(k, other); ok || got != other {
		t.Fatalf("another message's handle was swapped: %v %v", got, ok)
	}
	if got, ok := r.take(k, h); !ok || got != nh {
		t.Fatalf("take = %v %v, want the renewed handle", got, ok)
	}
	if _, ok := r.take(k, h); ok {
		t.Fatal("taken twice")
	}
	r.add(k, "T", h)
	r.dropClient("c")
	if d := r.due(now.Add(time.Hour)); len(d) != 0 {
		t.Fatalf("a dropped client's handle is still renewed: %v", d)
	}
	r.add(k, "T", h)
	if d := r.due(now.Add(renewMax + time.Minute)); len(d) != 0 {
		t.Fatalf("renewed past renewMax: %v", d)
	}
}

// TestHandleRoundTrip: receipt handles parse back to what was built; short
// or malformed ones are refused.
func TestHandleRoundTrip(t *testing.T) {
	h := handle{CkQueueOffset: 3, PopTime: 1718000000123, InvisibleTime: 30000, ReviveQid: 999, TopicType: topicRetryV1,
		BrokerName: "broker-a", QueueID: 2, QueueOffset: 5, CommitLogOffset: 88442211}
	got, err := parseHandle(h.String())
	if err != nil || got != h {
		t.Fatalf("parse(%q) = %v, %v", h.String(), got, err)
	}
	if got.realTopic("T", "G") != "%RETRY%G_T" || topicTypeOf("%RETRY%G+T") != topicRetryV2 || topicTypeOf("T") != topicNormal {
		t.Fatal("topic types")
	}
	for _, bad := range []string{"", "1 2 3 4 5 6 7", "a 1 1 1 0 b 1 1", "1 1 1 1 9 b 1 1", "1 1 1 1 0  1 1"} {
		if _, err := parseHandle(bad); err == nil {
			t.Errorf("parseHandle(%q) succeeded", bad)
		}
	}
	m, err := parseOffsetInfo("0 1 5;1 qo0%7 2")
	if err != nil || m["0@1"] != 5 || m["1@qo0%7"] != 2 {
		t.Fatalf("parseOffsetInfo = %v, %v", m, err)
	}
}

// FuzzParseHandle: any string parses or is refused without a panic, and a
// parsed handle survives a round trip.
func FuzzParseHandle(f *testing.F) {
	f.Add("1052 1718000000123 30000 3 0 broker-a 2 1057 88442211")
	f.Add("0 1 2 999 1 b 0 0")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		h, err := parseHandle(s)
		if err != nil {
			return
		}
		if h2, err := parseHandle(h.String()); err != nil || h2 != h {
			t.Fatalf("%q → %v → %q → %v, %v", s, h, h.String(), h2, err)
		}
	})
}
