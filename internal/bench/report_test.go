package bench

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

const quiverLines = `progress lines and summaries are skipped
{"workload":"W1","msgs":30000,"msgs_per_sec":12000,"p99_us":150}
{"workload":"W1","msgs":30000,"msgs_per_sec":10000,"p99_us":170}
{"workload":"W1","msgs":30000,"msgs_per_sec":14000,"p99_us":160}
{"workload":"W6a","msgs":0,"msgs_per_sec":0,"rss":{"vm_rss_mib":300,"vm_hwm_mib":400,"rss_anon_mib":30,"rss_file_mib":270}}
{"workload":"W8","msgs":10,"msgs_per_sec":1,"p50_us":2000}
`

const jetstreamLines = `== W1
RESULT label=W1:publish-sync:1pub:1KiB:default workload=pub mode=sync pubs=1 msgs=30000 rate=5000.0 p99_us=300.0
RESULT label=W1:publish-sync:1pub:1KiB:default workload=pub mode=sync pubs=1 msgs=30000 rate=6000.0 p99_us=350.0
RESULT label=W5:publish-sync:1pub:1KiB:fsync-always workload=pub rate=900.0
RESULT label=W6a:server-rss-with-backlog:1000000msgs:default workload=rss rss_mib=44.0 hwm_mib=154.0 anon_mib=40.0 file_mib=4.0
`

func comparisons(t *testing.T) ([]Run, []Comparison) {
	t.Helper()
	q, err := ParseQuiverRuns(strings.NewReader(quiverLines))
	if err != nil {
		t.Fatal(err)
	}
	j, err := ParseJetStreamRuns(strings.NewReader(jetstreamLines))
	if err != nil {
		t.Fatal(err)
	}
	if len(q) != 5 || len(j) != 4 {
		t.Fatalf("parsed %d quiver and %d jetstream runs, want 5 and 4", len(q), len(j))
	}
	runs := append(q, j...)
	return runs, Compare(Rows(), runs)
}

func find(cs []Comparison, workload, metric string) *Comparison {
	for i := range cs {
		if cs[i].Workload == workload && cs[i].Metric == metric {
			return &cs[i]
		}
	}
	return nil
}

func TestCompareTakesMediansOfEachSystemAndTheirRatio(t *testing.T) {
	_, cs := comparisons(t)
	w1 := find(cs, "W1", "msg/s")
	if w1 == nil || w1.JetStream == nil {
		t.Fatalf("no W1 msg/s comparison in %+v", cs)
	}
	if w1.Quiver != (Spread{N: 3, Median: 12000, Min: 10000, Max: 14000}) {
		t.Fatalf("quiver W1 %+v", w1.Quiver)
	}
	if *w1.JetStream != (Spread{N: 2, Median: 5500, Min: 5000, Max: 6000}) {
		t.Fatalf("jetstream W1 %+v", *w1.JetStream)
	}
	if got := w1.Ratio; got < 2.18 || got > 2.19 {
		t.Fatalf("ratio %v, want 12000/5500", got)
	}
	if w1.Met == nil || *w1.Met {
		t.Fatalf("goal 2.5 reported met at ratio %.2f", w1.Ratio)
	}
	// Memory: lower is better, anonymous RSS compared (30 vs 40 MiB).
	w6 := find(cs, "W6a", "anon RSS MiB")
	if w6 == nil || w6.Ratio != 0.75 || w6.Met == nil || !*w6.Met {
		t.Fatalf("W6a anon %+v", w6)
	}
	// A workload only Quiver runs has no JetStream column; one Quiver did
	// not run is left out even though JetStream ran it.
	if w8 := find(cs, "W8", "lateness p50 µs"); w8 == nil || w8.JetStream != nil || w8.Ratio != 0 {
		t.Fatalf("W8 %+v", w8)
	}
	if find(cs, "W5:W1", "msg/s") != nil {
		t.Fatal("row without Quiver runs is reported")
	}
}

func TestReportWritesMarkdownAndJSONLines(t *testing.T) {
	runs, cs := comparisons(t)
	var md bytes.Buffer
	if err := WriteMarkdown(&md, cs); err != nil {
		t.Fatal(err)
	}
	want := "| W1 | msg/s | 12000 (10000–14000) | 5500 (5000–6000) | 2.18 | ≥ 2.5 **not met** | 3/2 |"
	if !strings.Contains(md.String(), want) {
		t.Fatalf("markdown lacks %q:\n%s", want, md.String())
	}
	var jl bytes.Buffer
	if err := WriteJSONLines(&jl, runs, cs); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(jl.String()), "\n")
	if len(lines) != len(runs)+len(cs) {
		t.Fatalf("%d lines, want %d runs + %d comparisons", len(lines), len(runs), len(cs))
	}
	var last struct {
		Type  string  `json:"type"`
		Ratio float64 `json:"ratio"`
	}
	var first struct {
		Type    string             `json:"type"`
		System  string             `json:"system"`
		Metrics map[string]float64 `json:"metrics"`
	}
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil || first.Type != "run" || first.System != SystemQuiver || first.Metrics["msgs_per_sec"] != 12000 {
		t.Fatalf("first line %s (%v)", lines[0], err)
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &last); err != nil || last.Type != "comparison" {
		t.Fatalf("last line %s (%v)", lines[len(lines)-1], err)
	}
}

func TestParseQuiverRunsRejectsABrokenLine(t *testing.T) {
	if _, err := ParseQuiverRuns(strings.NewReader("{\"workload\":\"W1\",\n")); err == nil {
		t.Fatal("a truncated JSON line was accepted")
	}
}

func TestReportShowsW7VariantsAndRatios(t *testing.T) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	for _, r := range []Result{
		{Workload: "W7:W1:remoting", Msgs: 30000, MsgsPerSec: 10000, P99Us: 200, Transport: TransportRemoting},
		{Workload: "W7:W1:grpc", Msgs: 30000, MsgsPerSec: 5000, P99Us: 400, Transport: TransportGRPC},
		{Workload: "W7", Msgs: 400000, MsgsPerSec: 40000, Transport: TransportGRPC, Of: "W7:W2p:grpc",
			GRPC: &GRPCRatios{Reps: 1, W1MsgsPerSec: 0.5, W1P50: 2, W2pMsgsPerSec: 0.4, W2pP99: 3}},
	} {
		if err := enc.Encode(r); err != nil {
			t.Fatal(err)
		}
	}
	runs, err := ParseQuiverRuns(&b)
	if err != nil {
		t.Fatal(err)
	}
	cs := Compare(Rows(), runs)
	for _, want := range []struct {
		workload, metric string
		median           float64
	}{
		{"W7:W1:remoting", "msg/s", 10000}, {"W7:W1:grpc", "msg/s", 5000}, {"W7:W1:grpc", "ack p99 µs", 400},
		{"W7", "gRPC/Remoting W1 msg/s", 0.5}, {"W7", "gRPC/Remoting W1 ack p50", 2},
		{"W7", "gRPC/Remoting W2p msg/s", 0.4}, {"W7", "gRPC/Remoting W2p ack p99", 3},
	} {
		c := find(cs, want.workload, want.metric)
		if c == nil || c.Quiver.Median != want.median || c.JetStream != nil {
			t.Fatalf("%s %s: %+v, want Quiver median %v alone", want.workload, want.metric, c, want.median)
		}
	}
	var md bytes.Buffer
	if err := WriteMarkdown(&md, cs); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(md.String(), "| W7 | gRPC/Remoting W2p msg/s | 0.40 | — |") {
		t.Fatalf("markdown lacks the W7 ratio row:\n%s", md.String())
	}
}

func TestReportShowsW3PopBesideW3(t *testing.T) {
	q := `{"workload":"W3b","msgs_per_sec":90000}
{"workload":"W3:pop","msgs_per_sec":40000,"p99_us":900}
{"workload":"W3","msgs_per_sec":60000}
`
	js := "RESULT label=W3:consume-backlog:ack-each:1KiB:default workload=consume rate=50000\n"
	qr, err := ParseQuiverRuns(strings.NewReader(q))
	if err != nil {
		t.Fatal(err)
	}
	jr, err := ParseJetStreamRuns(strings.NewReader(js))
	if err != nil {
		t.Fatal(err)
	}
	cs := Compare(Rows(), append(qr, jr...))
	if c := find(cs, "W3", "msg/s"); c == nil || c.Quiver.Median != 60000 || c.Ratio != 1.2 || c.Goal != 1.5 {
		t.Fatalf("W3 row: %+v", c)
	}
	if c := find(cs, "W3:pop", "msg/s"); c == nil || c.Quiver.Median != 40000 || c.Ratio != 0.8 || c.Goal != 0 {
		t.Fatalf("W3:pop row: %+v", c)
	}
	if c := find(cs, "W3:pop", "ack p99 µs"); c == nil || c.Quiver.Median != 900 || c.JetStream != nil {
		t.Fatalf("W3:pop ack row: %+v", c)
	}
	var md bytes.Buffer
	if err := WriteMarkdown(&md, cs); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(md.String(), "| W3:pop | msg/s | 40000 | 50000 | 0.80 |") {
		t.Fatalf("markdown lacks the W3:pop row:\n%s", md.String())
	}
}
