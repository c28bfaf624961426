package txn

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/quiver-mq/quiver/internal/message"
)

func props(kv ...string) []byte {
	var b []byte
	for i := 0; i < len(kv); i += 2 {
		b = append(b, kv[i]+"\x01"+kv[i+1]+"\x02"...)
	}
	return b
}

func prop(t *testing.T, p []byte, name string) string {
	t.Helper()
	v, _ := message.Property(p, name)
	return v
}

func hasProp(p []byte, name string) bool {
	_, ok := message.Property(p, name)
	return ok
}

var born = netip.MustParseAddrPort("10.0.0.7:51234")

func sent(p []byte) *message.Message {
	return &message.Message{
		Topic: "Orders", QueueID: 3, Flag: 7, SysFlag: message.TransactionPrepared | message.FlagCompressed,
		BornTimestamp: 1_700_000_000_000, BornHost: born, ReconsumeTimes: 0,
		Body: []byte("payload"), Properties: p,
	}
}

// A SEND_MESSAGE with TRAN_MSG=true is stored as a half of
// RMQ_SYS_TRANS_HALF_TOPIC queue 0 (consume-semantics.md §12 step 1).
func TestTransactionHalfIsStoredInTheHalfTopic(t *testing.T) {
	orig := props("TRAN_MSG", "true", "PGROUP", "PG", "UNIQ_KEY", "U1", "TAGS", "t")
	m := sent(orig)
	keep := slices.Clone(orig)
	if !ToHalf(m) {
		t.Fatal("ToHalf = false for TRAN_MSG=true")
	}
	if m.Topic != HalfTopic || m.QueueID != 0 {
		t.Errorf("topic/queue = %s/%d", m.Topic, m.QueueID)
	}
	if m.SysFlag != message.FlagCompressed {
		t.Errorf("sysflag = %#x, want transaction bits cleared", m.SysFlag)
	}
	for name, want := range map[string]string{
		"REAL_TOPIC": "Orders", "REAL_QID": "3", "__transactionId__": "U1",
		"TRAN_MSG": "true", "PGROUP": "PG", "UNIQ_KEY": "U1", "TAGS": "t",
	} {
		if got := prop(t, m.Properties, name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if !slices.Equal(orig, keep) {
		t.Error("ToHalf modified the original properties slice")
	}
}

func TestNonTransactionalMessagesAreNotHalves(t *testing.T) {
	tests := []struct {
		name string
		m    *message.Message
	}{
		{"no TRAN_MSG", sent(props("UNIQ_KEY", "U"))},
		{"TRAN_MSG false", sent(props("TRAN_MSG", "false"))},
		{"retried with a delay level", func() *message.Message {
			m := sent(props("TRAN_MSG", "true", "DELAY", "3"))
			m.ReconsumeTimes = 1
			return m
		}()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := *tc.m
			if ToHalf(tc.m) {
				t.Fatal("ToHalf = true")
			}
			if tc.m.Topic != before.Topic || tc.m.SysFlag != before.SysFlag || string(tc.m.Properties) != string(before.Properties) {
				t.Error("message changed")
			}
		})
	}
	if m := sent(props("TRAN_MSG", "TRUE")); !ToHalf(m) {
		t.Error("TRAN_MSG=TRUE not prepared (Java parses booleans ignoring case)")
	}
}

func TestTransactionHalfReplacesRedirectProperties(t *testing.T) {
	m := sent(props("REAL_TOPIC", "Old", "TRAN_MSG", "true", "REAL_QID", "9"))
	ToHalf(m)
	d := message.DecodeProperties(m.Properties)
	if d["REAL_TOPIC"] != "Orders" || d["REAL_QID"] != "3" {
		t.Errorf("properties = %v", d)
	}
	if n := countPieces(m.Properties, "REAL_TOPIC"); n != 1 {
		t.Errorf("REAL_TOPIC written %d times", n)
	}
}

func countPieces(p []byte, name string) int {
	n := 0
	for _, piece := range splitPieces(p) {
		if len(piece) > len(name) && string(piece[:len(name)+1]) == name+"\x01" {
			n++
		}
	}
	return n
}

func splitPieces(p []byte) [][]byte {
	var out [][]byte
	start := 0
	for i, c := range p {
		if c == message.PropertySeparator {
			out = append(out, p[start:i])
			start = i + 1
		}
	}
	return out
}

func storedHalf(t *testing.T) *message.Message {
	t.Helper()
	m := sent(props("TRAN_MSG", "true", "PGROUP", "PG", "UNIQ_KEY", "U1", "TAGS", "t", "KEYS", "k"))
	ToHalf(m)
	m.QueueOffset, m.PhysicalOffset, m.StoreTimestamp = 41, 9000, 1_700_000_000_123
	m.StoreHost = netip.MustParseAddrPort("127.0.0.1:10911")
	return m
}

// Commit stores the half in its real topic and queue with REAL_TOPIC,
// REAL_QID and TRAN_MSG removed, sysflag COMMIT and
// preparedTransactionOffset = the half's offset; born data kept (§12 3a).
func TestTransactionCommitMessage(t *testing.T) {
	half := storedHalf(t)
	c, err := CommitMessage(half)
	if err != nil {
		t.Fatal(err)
	}
	if c.Topic != "Orders" || c.QueueID != 3 {
		t.Errorf("topic/queue = %s/%d", c.Topic, c.QueueID)
	}
	if message.TransactionType(c.SysFlag) != message.TransactionCommit || c.SysFlag&message.FlagCompressed == 0 {
		t.Errorf("sysflag = %#x", c.SysFlag)
	}
	if c.PreparedTransactionOffset != 9000 || c.BornTimestamp != half.BornTimestamp || c.BornHost != born || c.Flag != 7 {
		t.Errorf("commit = %+v", c)
	}
	for _, gone := range []string{"REAL_TOPIC", "REAL_QID", "TRAN_MSG"} {
		if hasProp(c.Properties, gone) {
			t.Errorf("%s still set", gone)
		}
	}
	for name, want := range map[string]string{"PGROUP": "PG", "UNIQ_KEY": "U1", "__transactionId__": "U1", "TAGS": "t", "KEYS": "k"} {
		if got := prop(t, c.Properties, name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if string(c.Body) != "payload" {
		t.Errorf("body = %q", c.Body)
	}
	half.Properties = props("PGROUP", "PG")
	if _, err := CommitMessage(half); err == nil {
		t.Error("a record without REAL_TOPIC committed")
	}
}

// CHECK_TRANSACTION_STATE carries the half as a stored V1 record with its
// real topic and queue (remoting.md §6).
func TestTransactionCheckBodyIsTheRecordWithRealTopic(t *testing.T) {
	half := storedHalf(t)
	b, err := CheckBody(half)
	if err != nil {
		t.Fatal(err)
	}
	got, n, err := message.Decode(b, true)
	if err != nil || n != len(b) {
		t.Fatalf("decode: %v (%d of %d bytes)", err, n, len(b))
	}
	if got.Topic != "Orders" || got.QueueID != 3 || got.QueueOffset != 41 || got.PhysicalOffset != 9000 ||
		got.StoreTimestamp != half.StoreTimestamp || string(got.Body) != "payload" {
		t.Errorf("record = %+v", got)
	}
	if size, magic, _ := message.Size(b); magic != message.MagicV1 || size != len(b) {
		t.Errorf("magic %#x size %d", uint32(magic), size)
	}
	if prop(t, got.Properties, "PGROUP") != "PG" {
		t.Error("PGROUP lost")
	}
}

func TestTransactionOpRecordBody(t *testing.T) {
	m := OpMessage(0, []int64{17, 18}, 5, born)
	if m.Topic != OpTopic || string(m.Body) != "17,18," || prop(t, m.Properties, "TAGS") != "d" {
		t.Errorf("op = %s %q %q", m.Topic, m.Body, m.Properties)
	}
	for _, tc := range []struct {
		body string
		want []int64
	}{
		{"17,", []int64{17}},
		{"17,18,", []int64{17, 18}},
		{"17", []int64{17}}, // an old single-offset op record
		{"", nil},
		{"x,3,,-1,4,", []int64{3, 4}},
	} {
		if got := ParseOpBody([]byte(tc.body)); !slices.Equal(got, tc.want) {
			t.Errorf("ParseOpBody(%q) = %v, want %v", tc.body, got, tc.want)
		}
	}
}

func TestTransactionPropertyEdits(t *testing.T) {
	p := []byte("A\x011\x02bad\x02B\x012\x02\x02A\x013\x02C\x01x\x01y\x02")
	got := string(removeProperties(p, "A", "C"))
	if want := "bad\x02B\x012\x02"; got != want {
		t.Errorf("removeProperties = %q, want %q", got, want)
	}
	if got := string(setProperty([]byte("B\x012\x02"), "B", "3")); got != "B\x013\x02" {
		t.Errorf("setProperty = %q", got)
	}
}

// decide follows TransactionalMessageServiceImpl.check for one half.
func TestTransactionCheckDecision(t *testing.T) {
	o := DefaultOptions()
	const now = int64(1_800_000_000_000)
	roundStart := now - 10
	mk := func(bornAgo time.Duration, kv ...string) *message.Message {
		p := append(props("REAL_TOPIC", "T", "REAL_QID", "0", "PGROUP", "G"), props(kv...)...)
		return &message.Message{Topic: HalfTopic, BornTimestamp: now - bornAgo.Milliseconds(),
			StoreTimestamp: now - bornAgo.Milliseconds() + 1, Properties: p}
	}
	none := func(int64) bool { return false }
	tests := []struct {
		name      string
		m         *message.Message
		ended     func(int64) bool
		want      action
		checks    string // TRANSACTION_CHECK_TIMES of the copy
		preparedQ string // TRAN_PREPARED_QUEUE_OFFSET of the copy
	}{
		{name: "old enough: first check", m: mk(7 * time.Second), want: actCheck, checks: "1"},
		{name: "checked before: one more", m: mk(time.Minute, "TRANSACTION_CHECK_TIMES", "3"), want: actCheck, checks: "4"},
		{name: "checked transactionCheckMax times: discard", m: mk(time.Minute, "TRANSACTION_CHECK_TIMES", "15"), want: actDiscard},
		{name: "older than fileReservedTime: discard", m: mk(73 * time.Hour), want: actDiscard},
		{name: "younger than transactionTimeOut: stop", m: mk(5 * time.Second), want: actStop},
		{name: "born in the future (producer clock ahead): check", m: func() *message.Message {
			m := mk(-time.Minute)
			m.StoreTimestamp = now - 1000
			return m
		}(), want: actCheck, checks: "1"},
		{name: "stored after the round began: stop", m: func() *message.Message {
			m := mk(time.Minute)
			m.StoreTimestamp = roundStart
			return m
		}(), want: actStop},
		{name: "immunity not over: re-append remembering the offset", m: mk(20*time.Second, "CHECK_IMMUNITY_TIME_IN_SECONDS", "60"),
			want: actImmune, checks: "1", preparedQ: "5"},
		{name: "immune copy keeps the original offset", m: mk(20*time.Second, "CHECK_IMMUNITY_TIME_IN_SECONDS", "60", "TRAN_PREPARED_QUEUE_OFFSET", "2"),
			want: actImmune, checks: "1", preparedQ: "2"},
		{name: "immune copy of an ended half: skip", m: mk(20*time.Second, "CHECK_IMMUNITY_TIME_IN_SECONDS", "60", "TRAN_PREPARED_QUEUE_OFFSET", "2"),
			ended: func(o int64) bool { return o == 2 }, want: actSkip},
		{name: "immunity over: check", m: mk(61*time.Second, "CHECK_IMMUNITY_TIME_IN_SECONDS", "60"), want: actCheck, checks: "1"},
		{name: "immunity shorter than the timeout counts", m: mk(3*time.Second, "CHECK_IMMUNITY_TIME_IN_SECONDS", "2"), want: actCheck, checks: "1"},
		{name: "immunity beyond max×interval: never checked", m: mk(time.Hour, "CHECK_IMMUNITY_TIME_IN_SECONDS", "451"), want: actSkip},
		{name: "not a half: discard", m: &message.Message{Topic: HalfTopic, Properties: props("PGROUP", "G")}, want: actDiscard},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ended := tc.ended
			if ended == nil {
				ended = none
			}
			v := o.decide(tc.m, 5, now, roundStart, ended)
			if v.act != tc.want {
				t.Fatalf("action = %v, want %v", v.act, tc.want)
			}
			if tc.checks != "" && prop(t, v.props, PropertyCheckTimes) != tc.checks {
				t.Errorf("%s = %q, want %q", PropertyCheckTimes, prop(t, v.props, PropertyCheckTimes), tc.checks)
			}
			if tc.preparedQ != "" && prop(t, v.props, PropertyPreparedQueueOffset) != tc.preparedQ {
				t.Errorf("%s = %q, want %q", PropertyPreparedQueueOffset, prop(t, v.props, PropertyPreparedQueueOffset), tc.preparedQ)
			}
		})
	}
}

func TestTransactionOptionsValidate(t *testing.T) {
	if err := DefaultOptions().Validate(); err != nil {
		t.Fatal(err)
	}
	if err := (Options{CheckMax: -1}).Validate(); err == nil {
		t.Error("negative transactionCheckMax accepted")
	}
}
