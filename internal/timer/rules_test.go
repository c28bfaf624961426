package timer

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/quiver-mq/quiver/internal/message"
)

func TestTransform(t *testing.T) {
	r := Rules{PrecisionMs: 1000, MaxDelayMs: 40 * 86400 * 1000}
	const now = 1_700_000_000_500
	props := func(kv ...string) []byte {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return message.EncodeProperties(m)
	}
	for _, tc := range []struct {
		name    string
		props   []byte
		sysFlag int32
		moved   bool
		deliver int64
		err     error
	}{
		{"no timer", props("KEYS", "k"), 0, false, 0, nil},
		{"deliver ms", props(message.PropertyTimerDeliverMs, "1700000003200"), 0, true, 1_700_000_003_200, nil},
		{"exact slot end", props(message.PropertyTimerDeliverMs, "1700000003000"), 0, true, 1_700_000_003_000, nil},
		{"delay sec", props(message.PropertyTimerDelaySec, "10"), 0, true, now + 10_000, nil},
		{"delay ms", props(message.PropertyTimerDelayMs, "1500"), 0, true, now + 1500, nil},
		{"sec wins", props(message.PropertyTimerDelaySec, "2", message.PropertyTimerDelayMs, "9"), 0, true, now + 2000, nil},
		{"past: ordinary", props(message.PropertyTimerDeliverMs, "1"), 0, false, 0, nil},
		{"negative delay: ordinary", props(message.PropertyTimerDelaySec, "-5"), 0, false, 0, nil},
		{"39 days", props(message.PropertyTimerDelaySec, strconv.Itoa(39*86400)), 0, true, now + 39*86400*1000, nil},
		{"41 days", props(message.PropertyTimerDelaySec, strconv.Itoa(41*86400)), 0, false, 0, ErrIllegal},
		{"huge sec no overflow", props(message.PropertyTimerDelaySec, "9223372036854775807"), 0, false, 0, ErrIllegal},
		{"bad number", props(message.PropertyTimerDeliverMs, "soon"), 0, false, 0, ErrIllegal},
		{"marker in the past", props(message.PropertyTimerDeliverMs, "5", message.PropertyTimerDelUniqKey, "t+u"), 0, false, 0, ErrIllegal},
		{"already transformed", props(message.PropertyTimerDeliverMs, "1700000003200", message.PropertyTimerOutMs, "1"), 0, false, 0, nil},
		{"half message", props(message.PropertyTimerDelaySec, "10"), message.TransactionPrepared, false, 0, nil},
		{"commit", props(message.PropertyTimerDelaySec, "10"), message.TransactionCommit, true, now + 10_000, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := &message.Message{Topic: "orders", QueueID: 3, SysFlag: tc.sysFlag, Properties: tc.props}
			moved, err := r.Transform(m, now)
			if !errors.Is(err, tc.err) || moved != tc.moved {
				t.Fatalf("moved %v err %v, want %v %v", moved, err, tc.moved, tc.err)
			}
			if !moved {
				if m.Topic != "orders" || string(m.Properties) != string(tc.props) {
					t.Fatalf("message changed though not moved: %s %q", m.Topic, m.Properties)
				}
				return
			}
			p := message.DecodeProperties(m.Properties)
			out, _ := strconv.ParseInt(p[message.PropertyTimerOutMs], 10, 64)
			if m.Topic != Topic || m.QueueID != 0 || p[message.PropertyRealTopic] != "orders" || p[message.PropertyRealQueueID] != "3" {
				t.Fatalf("moved to %s/%d with %v", m.Topic, m.QueueID, p)
			}
			if p[message.PropertyTimerDeliverMs] != strconv.FormatInt(tc.deliver, 10) {
				t.Fatalf("TIMER_DELIVER_MS %s, want %d", p[message.PropertyTimerDeliverMs], tc.deliver)
			}
			// RocketMQ's rounding: an exact multiple goes one slot back.
			if out%1000 != 0 || out >= tc.deliver || tc.deliver-out > 1000 {
				t.Fatalf("TIMER_OUT_MS %d for deliver %d", out, tc.deliver)
			}
		})
	}
	if _, err := (Rules{PrecisionMs: 1000, MaxDelayMs: 1000, Disabled: true}).Transform(
		&message.Message{Topic: "t", Properties: props(message.PropertyTimerDelaySec, "1")}, now); !errors.Is(err, ErrNotEnabled) {
		t.Fatalf("disabled: %v", err)
	}
}

func TestHandleRoundTrip(t *testing.T) {
	h := EncodeHandle("orders", "broker-a", 1_700_000_003_000, "C0A80001ABCD")
	got, err := DecodeHandle(h)
	if err != nil {
		t.Fatal(err)
	}
	if got.Topic != "orders" || got.BrokerName != "broker-a" || got.TimeMs != 1_700_000_003_001 || got.UniqKey != "C0A80001ABCD" {
		t.Fatalf("decoded %+v", got)
	}
	// Java: Base64.getUrlEncoder() of "v1 orders broker-a 1700000003001 C0A80001ABCD".
	if want := "djEgb3JkZXJzIGJyb2tlci1hIDE3MDAwMDAwMDMwMDEgQzBBODAwMDFBQkNE"; h != want {
		t.Fatalf("handle %s, want %s", h, want)
	}
	for _, bad := range []string{"", "!!!", "djI=", "djEgYQ=="} {
		if _, err := DecodeHandle(bad); !errors.Is(err, ErrBadHandle) {
			t.Errorf("DecodeHandle(%q) = %v, want ErrBadHandle", bad, err)
		}
	}
}

func TestUnitAndSlotCodecs(t *testing.T) {
	u := unit{prev: 72, offPy: 1 << 40, deliverMs: 1_700_000_000_123, queueOffset: 9, epoch: 7, keyHash: 0xdeadbeef, slot: 17, size: 1200, flags: flagRoll}
	var b [unitSize]byte
	u.encode(b[:])
	if got, err := decodeUnit(b[:]); err != nil || got != u {
		t.Fatalf("unit round trip: %+v %v", got, err)
	}
	b[10] ^= 1
	if _, err := decodeUnit(b[:]); !errors.Is(err, errBadUnit) {
		t.Fatalf("flipped bit: %v", err)
	}
	var z [unitSize]byte
	if _, err := decodeUnit(z[:]); !errors.Is(err, errBadUnit) {
		t.Fatalf("zeros decode as a unit: %v", err)
	}
	e := slotEntry{slot: 99, last: 720, count: 3}
	var sb [slotSize]byte
	encodeSlot(sb[:], e)
	if got, err := decodeSlot(sb[:]); err != nil || got != e {
		t.Fatalf("slot round trip: %+v %v", got, err)
	}
	sb[3] ^= 4
	if _, err := decodeSlot(sb[:]); !errors.Is(err, errBadSlot) {
		t.Fatalf("flipped slot bit: %v", err)
	}
}

func FuzzDecodeUnit(f *testing.F) {
	var b [unitSize]byte
	(&unit{prev: -1, offPy: 5, size: 100, slot: 3}).encode(b[:])
	f.Add(b[:])
	f.Add(make([]byte, 10))
	f.Fuzz(func(t *testing.T, data []byte) {
		u, err := decodeUnit(data)
		if err != nil {
			return
		}
		var out [unitSize]byte
		u.encode(out[:])
		if string(out[:]) != string(data[:unitSize]) {
			t.Fatalf("re-encoding differs")
		}
	})
}

func FuzzDecodeSlot(f *testing.F) {
	var b [slotSize]byte
	encodeSlot(b[:], slotEntry{slot: 5, last: 0, count: 1})
	f.Add(b[:])
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < slotSize {
			return
		}
		e, err := decodeSlot(data)
		if err == nil && (e.last < -1 || e.count < 0) {
			t.Fatalf("accepted %+v", e)
		}
	})
}

func FuzzDecodeHandle(f *testing.F) {
	f.Add(EncodeHandle("t", "b", 5, "u"))
	f.Add("djEgYQ==")
	f.Fuzz(func(t *testing.T, s string) {
		h, err := DecodeHandle(s)
		if err != nil {
			return
		}
		// What decodes re-encodes to a handle that decodes the same.
		if h.TimeMs > 0 && !strings.ContainsAny(h.Topic+h.BrokerName+h.UniqKey, " ") {
			again, err := DecodeHandle(EncodeHandle(h.Topic, h.BrokerName, h.TimeMs-1, h.UniqKey))
			if err != nil || again != h {
				t.Fatalf("round trip of %+v: %+v %v", h, again, err)
			}
		}
	})
}

func FuzzTransform(f *testing.F) {
	f.Add([]byte("TIMER_DELAY_SEC\x0110\x02"), int64(1_700_000_000_000))
	f.Add([]byte("TIMER_DELIVER_MS\x01-9\x02TIMER_DEL_UNIQKEY\x01a\x02"), int64(0))
	f.Fuzz(func(t *testing.T, props []byte, now int64) {
		r := Rules{PrecisionMs: 100, MaxDelayMs: 365 * 86400 * 1000}
		m := &message.Message{Topic: "t", Properties: props}
		moved, err := r.Transform(m, now)
		if moved && (err != nil || m.Topic != Topic) {
			t.Fatalf("moved %v err %v topic %s", moved, err, m.Topic)
		}
	})
}
