package schedule

import (
	"errors"
	"maps"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/quiver-mq/quiver/internal/message"
)

func defaultLevels(t testing.TB) []time.Duration {
	t.Helper()
	levels, err := ParseLevels(DefaultLevels)
	if err != nil {
		t.Fatal(err)
	}
	return levels
}

func TestParseLevelsDefault(t *testing.T) {
	want := []time.Duration{
		time.Second, 5 * time.Second, 10 * time.Second, 30 * time.Second,
		time.Minute, 2 * time.Minute, 3 * time.Minute, 4 * time.Minute, 5 * time.Minute,
		6 * time.Minute, 7 * time.Minute, 8 * time.Minute, 9 * time.Minute, 10 * time.Minute,
		20 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour,
	}
	got := defaultLevels(t)
	if len(got) != QueueNums || !equalDurations(got, want) {
		t.Fatalf("ParseLevels(default) = %v, want %v", got, want)
	}
}

func TestParseLevels(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []time.Duration
	}{
		{"1s", []time.Duration{time.Second}},
		{"  2m\t1h  3d ", []time.Duration{2 * time.Minute, time.Hour, 72 * time.Hour}},
		{"365d", []time.Duration{365 * 24 * time.Hour}},
	} {
		got, err := ParseLevels(tc.in)
		if err != nil || !equalDurations(got, tc.want) {
			t.Errorf("ParseLevels(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{"", "   ", "1", "s", "1x", "0s", "-1s", "1.5s", "1ms", "366d", "1s 5"} {
		if got, err := ParseLevels(in); err == nil {
			t.Errorf("ParseLevels(%q) = %v, want an error", in, got)
		}
	}
}

func equalDurations(a, b []time.Duration) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func props(kv ...string) []byte {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return message.EncodeProperties(m)
}

// TestRedirect follows HookUtils.handleScheduleMessage case by case.
func TestRedirect(t *testing.T) {
	levels := defaultLevels(t)
	for _, tc := range []struct {
		name    string
		sysFlag int32
		topic   string
		props   []byte
		// want: nil = not redirected (message unchanged)
		wantQueue int32
		wantProps map[string]string
	}{
		{name: "no DELAY", props: props("TAGS", "a")},
		{name: "DELAY 0", props: props("DELAY", "0")},
		{name: "DELAY negative", props: props("DELAY", "-3")},
		{name: "DELAY not a number", props: props("DELAY", "x")},
		{name: "prepared half", sysFlag: message.TransactionPrepared, props: props("DELAY", "3")},
		{name: "rollback", sysFlag: message.TransactionRollback, props: props("DELAY", "3")},
		{name: "stored half", topic: transHalfTopic, props: props("DELAY", "3", "REAL_TOPIC", "T", "REAL_QID", "0")},
		{
			name: "level 3", props: props("DELAY", "3", "TAGS", "a"), wantQueue: 2,
			wantProps: map[string]string{"DELAY": "3", "TAGS": "a", "REAL_TOPIC": "T", "REAL_QID": "5"},
		},
		{
			name: "commit", sysFlag: message.TransactionCommit, props: props("DELAY", "1"), wantQueue: 0,
			wantProps: map[string]string{"DELAY": "1", "REAL_TOPIC": "T", "REAL_QID": "5"},
		},
		{
			name: "clamped to the last level", props: props("DELAY", "25"), wantQueue: 17,
			wantProps: map[string]string{"DELAY": "18", "REAL_TOPIC": "T", "REAL_QID": "5"},
		},
		{
			name: "timer properties dropped", props: props("DELAY", "2", "TIMER_DELIVER_MS", "99", "TIMER_DELAY_SEC", "4"), wantQueue: 1,
			wantProps: map[string]string{"DELAY": "2", "REAL_TOPIC": "T", "REAL_QID": "5"},
		},
		{
			name: "timer topic keeps timer properties", topic: timerTopic, props: props("DELAY", "2", "TIMER_OUT_MS", "9", "TIMER_DELIVER_MS", "99"), wantQueue: 1,
			wantProps: map[string]string{"DELAY": "2", "TIMER_OUT_MS": "9", "TIMER_DELIVER_MS": "99", "REAL_TOPIC": timerTopic, "REAL_QID": "5"},
		},
		{
			name: "existing REAL_TOPIC replaced", props: props("DELAY", "4", "REAL_TOPIC", "old", "REAL_QID", "9"), wantQueue: 3,
			wantProps: map[string]string{"DELAY": "4", "REAL_TOPIC": "T", "REAL_QID": "5"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			topic := tc.topic
			if topic == "" {
				topic = "T"
			}
			m := &message.Message{Topic: topic, QueueID: 5, SysFlag: tc.sysFlag, Properties: tc.props}
			orig := string(m.Properties)
			got := Redirect(m, levels)
			if got != (tc.wantProps != nil) {
				t.Fatalf("Redirect = %v, want %v", got, tc.wantProps != nil)
			}
			if !got {
				if m.Topic != topic || m.QueueID != 5 || string(m.Properties) != orig {
					t.Fatalf("message changed although not redirected: %+v", m)
				}
				return
			}
			if m.Topic != Topic || m.QueueID != tc.wantQueue {
				t.Errorf("now on %s/%d, want %s/%d", m.Topic, m.QueueID, Topic, tc.wantQueue)
			}
			if p := message.DecodeProperties(m.Properties); !maps.Equal(p, tc.wantProps) {
				t.Errorf("properties %v, want %v", p, tc.wantProps)
			}
		})
	}
}

// TestRedirectDefaultLevelsToQueues: level n goes to queue n−1 for all 18
// default levels, and above 18 to queue 17.
func TestRedirectDefaultLevelsToQueues(t *testing.T) {
	levels := defaultLevels(t)
	for level := 1; level <= 40; level++ {
		m := &message.Message{Topic: "T", QueueID: 1, Properties: props("DELAY", strconv.Itoa(level))}
		if !Redirect(m, levels) {
			t.Fatalf("level %d not redirected", level)
		}
		want := int32(min(level, 18) - 1)
		if m.QueueID != want {
			t.Errorf("level %d → queue %d, want %d", level, m.QueueID, want)
		}
		if d, _ := message.Property(m.Properties, "DELAY"); d != strconv.Itoa(min(level, 18)) {
			t.Errorf("level %d: DELAY = %q", level, d)
		}
	}
	if Redirect(&message.Message{Topic: "T", Properties: props("DELAY", "1")}, nil) {
		t.Error("redirected with no levels")
	}
}

func TestTagsCodeFunc(t *testing.T) {
	levels := defaultLevels(t)
	f := TagsCodeFunc(levels)
	for _, tc := range []struct {
		topic  string
		props  []byte
		code   int64
		wantOK bool
	}{
		{Topic, props("DELAY", "1"), 1_000 + 1_000, true},
		{Topic, props("DELAY", "4", "TAGS", "x"), 1_000 + 30_000, true},
		{Topic, props("DELAY", "18"), 1_000 + 7_200_000, true},
		{Topic, props("DELAY", "99"), 1_000 + 7_200_000, true},
		{Topic, props("DELAY", "0"), 0, false},
		{Topic, props("DELAY", "x"), 0, false},
		{Topic, props("TAGS", "x"), 0, false},
		{"T", props("DELAY", "1"), 0, false},
	} {
		code, ok := f(tc.topic, tc.props, 1_000)
		if ok != tc.wantOK || code != tc.code {
			t.Errorf("TagsCode(%s, %q) = %d, %v; want %d, %v", tc.topic, tc.props, code, ok, tc.code, tc.wantOK)
		}
	}
	levels[0] = time.Hour // the function keeps its own copy
	if code, _ := f(Topic, props("DELAY", "1"), 0); code != 1_000 {
		t.Errorf("TagsCodeFunc aliases its levels: %d", code)
	}
}

func TestDeliverAt(t *testing.T) {
	const d = 10 * time.Second
	for _, tc := range []struct{ store, now, want int64 }{
		{store: 1_000, now: 1_000, want: 11_000},
		{store: 1_000, now: 10_999, want: 11_000},
		{store: 1_000, now: 50_000, want: 11_000},
		{store: 11_000, now: 11_000, want: 21_000},  // exactly one delay ahead
		{store: 11_001, now: 11_000, want: 11_000},  // stored "after" now: the clock went back
		{store: 999_999, now: 11_000, want: 11_000}, // far ahead
	} {
		if got := deliverAt(tc.store, d, tc.now); got != tc.want {
			t.Errorf("deliverAt(%d, %v, %d) = %d, want %d", tc.store, d, tc.now, got, tc.want)
		}
	}
	if got := deliverAt(0, 1500*time.Microsecond, 0); got != 2 {
		t.Errorf("a delay with a part of a millisecond rounds up: %d", got)
	}
}

func TestTimeUp(t *testing.T) {
	born := netip.MustParseAddrPort("10.0.0.7:4000")
	r := &message.Message{
		Topic: Topic, QueueID: 2, Flag: 7, SysFlag: message.TransactionCommit | message.FlagCompressed,
		BornTimestamp: 123, BornHost: born, StoreTimestamp: 456, ReconsumeTimes: 3,
		PreparedTransactionOffset: 99, Body: []byte("hello"),
		Properties: []byte("UNIQ_KEY\x01U1\x02DELAY\x013\x02TIMER_DELIVER_MS\x011\x02REAL_TOPIC\x01T\x02" +
			"REAL_QID\x014\x02a\x01b\x02WAIT\x01true\x02TIMER_DELAY_SEC\x015\x02"),
	}
	m, err := timeUp(r)
	if err != nil {
		t.Fatal(err)
	}
	want := message.Message{
		Topic: "T", QueueID: 4, Flag: 7, SysFlag: r.SysFlag, BornTimestamp: 123, BornHost: born,
		ReconsumeTimes: 3, Body: []byte("hello"),
		// order kept, WAIT rewritten in place
		Properties: []byte("UNIQ_KEY\x01U1\x02REAL_TOPIC\x01T\x02REAL_QID\x014\x02a\x01b\x02WAIT\x01false\x02"),
	}
	if m.Topic != want.Topic || m.QueueID != want.QueueID || m.Flag != want.Flag || m.SysFlag != want.SysFlag ||
		m.BornTimestamp != want.BornTimestamp || m.BornHost != want.BornHost || m.ReconsumeTimes != want.ReconsumeTimes ||
		string(m.Body) != string(want.Body) || string(m.Properties) != string(want.Properties) ||
		m.StoreTimestamp != 0 || m.PreparedTransactionOffset != 0 {
		t.Errorf("timeUp =\n%+v\nwant\n%+v", *m, want)
	}

	for name, p := range map[string]string{
		"no REAL_TOPIC":      "REAL_QID\x011\x02",
		"no REAL_QID":        "REAL_TOPIC\x01T\x02",
		"bad REAL_QID":       "REAL_TOPIC\x01T\x02REAL_QID\x01x\x02",
		"negative REAL_QID":  "REAL_TOPIC\x01T\x02REAL_QID\x01-1\x02",
		"half topic as real": "REAL_TOPIC\x01RMQ_SYS_TRANS_HALF_TOPIC\x02REAL_QID\x010\x02",
	} {
		if _, err := timeUp(&message.Message{Properties: []byte(p)}); !errors.Is(err, errUndeliverable) {
			t.Errorf("%s: err = %v, want errUndeliverable", name, err)
		}
	}
}

func TestEditProperties(t *testing.T) {
	for _, tc := range []struct {
		in    string
		edits []message.PropertyEdit
		want  string
	}{
		{"", nil, ""},
		{"", []message.PropertyEdit{{Name: "A", Value: "1"}}, "A\x011\x02"},
		{"A\x011\x02B\x012\x02", []message.PropertyEdit{{Name: "A", Value: ""}}, "B\x012\x02"},
		{"A\x011\x02B\x012\x02", []message.PropertyEdit{{Name: "A", Value: "9"}}, "A\x019\x02B\x012\x02"},
		{"A\x011\x02B\x012\x02A\x013\x02", []message.PropertyEdit{{Name: "A", Value: "9"}}, "A\x019\x02B\x012\x02"},
		// pieces Java's reader skips are dropped; a value may hold 0x01
		{"\x01x\x02y\x01\x02junk\x02B\x01a\x01b\x02C\x012", []message.PropertyEdit{{Name: "D", Value: "4"}}, "B\x01a\x01b\x02C\x012\x02D\x014\x02"},
	} {
		got := message.EditProperties([]byte(tc.in), tc.edits...)
		if string(got) != tc.want {
			t.Errorf("message.EditProperties(%q, %v) = %q, want %q", tc.in, tc.edits, got, tc.want)
		}
		if !maps.Equal(message.DecodeProperties(got), message.DecodeProperties([]byte(tc.want))) {
			t.Errorf("decoded differently")
		}
	}
}
