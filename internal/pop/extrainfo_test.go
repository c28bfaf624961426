package pop

import (
	"errors"
	"strings"
	"testing"
)

func TestExtraInfoRoundTrip(t *testing.T) {
	// The example of pop.md §3, as the Java proxy builds it.
	const s = "1052 1718000000123 30000 3 0 broker-a 2 1057 88442211"
	e, err := ParseExtraInfo(s)
	if err != nil {
		t.Fatal(err)
	}
	want := ExtraInfo{1052, 1718000000123, 30000, 3, FlagNormal, "broker-a", 2, 1057, 88442211}
	if e != want {
		t.Fatalf("got %+v, want %+v", e, want)
	}
	if e.String() != s || e.Deadline() != 1718000030123 || e.Order() {
		t.Fatalf("String %q, Deadline %d, Order %v", e.String(), e.Deadline(), e.Order())
	}
	e.CommitLogOffset = -1
	if got := e.String(); got != "1052 1718000000123 30000 3 0 broker-a 2 1057" {
		t.Fatalf("8-field form %q", got)
	}
	six, err := ParseExtraInfo("7 1 2 999 1 b")
	if err != nil || !six.Order() || six.QueueID != -1 || six.String() != "7 1 2 999 1 b" {
		t.Fatalf("6-field form: %+v %v", six, err)
	}
}

func TestExtraInfoRejectsMalformed(t *testing.T) {
	for _, s := range []string{
		"", "1 2 3 4 0", "a 2 3 4 0 b 0 0", "1 2 3 4 7 b 0 0", "1 2 3 4 0  0 0", "1 2 3 4 0 b 0",
		"-1 2 3 4 0 b 0 0", "1 2 3 4 0 b -1 0", "1 2 3 4 0 b 0 0 0 0", "1 2 3 99999999999 0 b 0 0",
		"1  2 3 4 0 b 0 0",
	} {
		if _, err := ParseExtraInfo(s); !errors.Is(err, ErrBadHandle) {
			t.Errorf("%q: %v, want ErrBadHandle", s, err)
		}
	}
}

func TestRetryTopicNames(t *testing.T) {
	if got := RetryTopicV1("T", "G"); got != "%RETRY%G_T" {
		t.Fatal(got)
	}
	for topic, flag := range map[string]string{"T": FlagNormal, "%RETRY%G_T": FlagRetryV1, "%RETRY%G+T": FlagRetryV2, "%RETRY%G": FlagRetryV1} {
		if RetryFlag(topic) != flag {
			t.Errorf("RetryFlag(%q) = %s, want %s", topic, RetryFlag(topic), flag)
		}
	}
	for flag, want := range map[string]string{FlagNormal: "T", FlagRetryV1: "%RETRY%G_T", FlagRetryV2: "%RETRY%G+T"} {
		if got, err := RealTopic("T", "G", flag); err != nil || got != want {
			t.Errorf("RealTopic(%s) = %q %v", flag, got, err)
		}
	}
	if _, err := RealTopic("T", "G", "3"); !errors.Is(err, ErrBadHandle) {
		t.Fatal(err)
	}
	if NormalTopic("%RETRY%G_a_b", "G") != "a_b" || NormalTopic("%RETRY%G+T", "G") != "T" || NormalTopic("T", "G") != "T" {
		t.Fatal("NormalTopic")
	}
}

func TestOffsetInfo(t *testing.T) {
	var start, msgs, counts []byte
	start = AppendStartOffsetInfo(start, "T", 2, 10)
	start = AppendStartOffsetInfo(start, "%RETRY%G_T", 0, 4)
	msgs = AppendMsgOffsetInfo(msgs, "T", 2, []int64{10, 12})
	msgs = AppendMsgOffsetInfo(msgs, "%RETRY%G_T", 0, []int64{4})
	counts = AppendOrderCountInfo(counts, "T", 1, []int64{5, 6}, []int{2, 0})
	if string(start) != "0 2 10;1 0 4" || string(msgs) != "0 2 10,12;1 0 4" ||
		string(counts) != "0 qo1%5 2;0 qo1%6 0;0 1 0" {
		t.Fatalf("start %q msgs %q counts %q", start, msgs, counts)
	}
	so, err := ParseStartOffsetInfo(string(start))
	if err != nil || so[OffsetInfoKey("0", 2)] != 10 || so[OffsetInfoKey("1", 0)] != 4 {
		t.Fatalf("%v %v", so, err)
	}
	mo, err := ParseMsgOffsetInfo(string(msgs))
	if err != nil || len(mo["0@2"]) != 2 || mo["0@2"][1] != 12 {
		t.Fatalf("%v %v", mo, err)
	}
	oc, err := ParseOrderCountInfo(string(counts))
	if err != nil || oc[OrderCountKey("0", 1, 5)] != 2 || oc["0@1"] != 0 {
		t.Fatalf("%v %v", oc, err)
	}
	for _, bad := range []string{"0 2", "0 2 x", "0 2 1;0 2 3", "0 2 1 4"} {
		if _, err := ParseStartOffsetInfo(bad); !errors.Is(err, ErrBadHandle) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

// FuzzParseExtraInfo: no panic; what parses re-encodes to the same handle.
func FuzzParseExtraInfo(f *testing.F) {
	f.Add("1052 1718000000123 30000 3 0 broker-a 2 1057 88442211")
	f.Add("0 1 2 999 1 b 0 0")
	f.Add("7 1 2 999 1 b")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		e, err := ParseExtraInfo(s)
		if err != nil {
			if !errors.Is(err, ErrBadHandle) {
				t.Fatalf("error %v is not ErrBadHandle", err)
			}
			return
		}
		e2, err := ParseExtraInfo(e.String())
		if err != nil || e2 != e {
			t.Fatalf("%q → %+v → %q → %+v %v", s, e, e.String(), e2, err)
		}
		if strings.Count(e.String(), " ") < 5 {
			t.Fatal("short encoding")
		}
	})
}

// FuzzParseOffsetInfo: the three offset-info parsers never panic.
func FuzzParseOffsetInfo(f *testing.F) {
	f.Add("0 2 10;1 0 4")
	f.Add("0 2 10,12;1 0 4")
	f.Add("0 qo1%5 2;0 qo1%6 0;0 1 0")
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = ParseStartOffsetInfo(s)
		_, _ = ParseMsgOffsetInfo(s)
		_, _ = ParseOrderCountInfo(s)
	})
}
