package bench

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
)

// A Run is one measurement of one system, as the report reads it: Quiver's
// JSON lines (a Result, nested objects flattened into the top level) and
// jsbench's RESULT lines ("RESULT label=… workload=… key=value …").
type Run struct {
	System   string             `json:"system"` // SystemQuiver or SystemJetStream
	Workload string             `json:"workload"`
	Label    string             `json:"label,omitempty"` // jsbench's label
	Metrics  map[string]float64 `json:"metrics"`
}

// The systems a report compares.
const (
	SystemQuiver    = "quiver"
	SystemJetStream = "jetstream"
)

// Row is one line of the side-by-side table: a metric of one workload for
// both systems. A run counts for a system when its workload (Quiver) or
// label (jsbench, by prefix) matches.
type Row struct {
	Workload string // Quiver's workload name, also the row's name
	Metric   string // what is compared, with its unit
	QField   string // field of Quiver's JSON line
	JSLabel  string // prefix of jsbench's label; "" for Quiver only
	JSField  string // field of jsbench's RESULT line
	// Lower: smaller is better (latency, memory); the goal is then a ceiling.
	Lower bool
	// Goal is the ratio Quiver / JetStream the issue asks for; 0 for none.
	Goal float64
}

// Rows is the comparison of WORKLOADS.md: throughput first, then latency
// and memory. Labels are those jetstream-baseline.sh prints. W7 and W8 are
// Quiver's alone; W7's ratio rows are the ratios of the medians its
// headline carries (one per W7 run).
func Rows() []Row {
	return []Row{
		{"W1", "msg/s", "msgs_per_sec", "W1:publish-sync:1pub:", "rate", false, 2.5},
		{"W1", "ack p99 µs", "p99_us", "W1:publish-sync:1pub:", "p99_us", true, 0},
		{"W2", "msg/s", "msgs_per_sec", "W2:publish-sync:8pubs:", "rate", false, 2},
		{"W2", "ack p99 µs", "p99_us", "W2:publish-sync:8pubs:", "p99_us", true, 0},
		{"W2p", "msg/s", "msgs_per_sec", "W2p:publish-async-window256:", "rate", false, 2},
		{"W3:fill", "msg/s", "msgs_per_sec", "W3:fill-backlog", "rate", false, 0},
		{"W3", "msg/s", "msgs_per_sec", "W3:consume-backlog:ack-each", "rate", false, 1.5},
		{"W3b", "msg/s", "msgs_per_sec", "W3b:consume-backlog:cumulative-ack", "rate", false, 0},
		// W3 again with POP and a request/response ACK_MESSAGE per message
		// (WORKLOADS.md's own method for W3), against the same JetStream
		// run; PULL's W3 stays the row with the goal.
		{"W3:pop", "msg/s", "msgs_per_sec", "W3:consume-backlog:ack-each", "rate", false, 0},
		{"W3:pop", "ack p99 µs", "p99_us", "", "", true, 0},
		{"W4", "e2e p50 µs", "p50_us", "W4:e2e-latency:5000msg/s", "p50_us", true, 0},
		{"W4", "e2e p99 µs", "p99_us", "W4:e2e-latency:5000msg/s", "p99_us", true, 0.5},
		{"W4", "e2e p99.9 µs", "p999_us", "W4:e2e-latency:5000msg/s", "p999_us", true, 0},
		{"W4", "p99 from actual send µs", "sent_p99_us", "W4:e2e-latency:5000msg/s", "sent_p99_us", true, 0},
		{"W5:W1", "msg/s", "msgs_per_sec", "W5:publish-sync:1pub:", "rate", false, 0},
		{"W5:W2", "msg/s", "msgs_per_sec", "W5:publish-sync:8pubs:", "rate", false, 5},
		{"W5:W2p", "msg/s", "msgs_per_sec", "W5:publish-async-window256:", "rate", false, 0},
		{"W5:W4", "e2e p99 µs", "p99_us", "W5:e2e-latency:200msg/s", "p99_us", true, 0},
		{"W6a", "anon RSS MiB", "rss_anon_mib", "W6a:server-rss-with-backlog", "anon_mib", true, 1},
		{"W6a", "file RSS MiB", "rss_file_mib", "W6a:server-rss-with-backlog", "file_mib", true, 0},
		{"W6a", "peak RSS MiB", "vm_hwm_mib", "W6a:server-rss-with-backlog", "hwm_mib", true, 0},
		{"W6a:after-drain", "anon RSS MiB", "rss_anon_mib", "W6a:server-rss-after-drain", "anon_mib", true, 0},
		{"W6b:create", "topics/s", "msgs_per_sec", "W6b:", "create_rate", false, 0},
		{"W6b", "msg/s", "msgs_per_sec", "W6b:", "rate", false, 0},
		{"W6b", "anon RSS MiB", "rss_anon_mib", "W6b:server-rss:", "anon_mib", true, 0},
		{"W6b", "file RSS MiB", "rss_file_mib", "W6b:server-rss:", "file_mib", true, 0},
		{"W7:W1:remoting", "msg/s", "msgs_per_sec", "", "", false, 0},
		{"W7:W1:grpc", "msg/s", "msgs_per_sec", "", "", false, 0},
		{"W7:W1:remoting", "ack p99 µs", "p99_us", "", "", true, 0},
		{"W7:W1:grpc", "ack p99 µs", "p99_us", "", "", true, 0},
		{"W7:W2p:remoting", "msg/s", "msgs_per_sec", "", "", false, 0},
		{"W7:W2p:grpc", "msg/s", "msgs_per_sec", "", "", false, 0},
		{"W7:W2p:remoting", "ack p99 µs", "p99_us", "", "", true, 0},
		{"W7:W2p:grpc", "ack p99 µs", "p99_us", "", "", true, 0},
		{"W7", "gRPC/Remoting W1 msg/s", "ratio_w1_msgs_per_sec", "", "", false, 0},
		{"W7", "gRPC/Remoting W1 ack p50", "ratio_w1_p50_us", "", "", true, 0},
		{"W7", "gRPC/Remoting W2p msg/s", "ratio_w2p_msgs_per_sec", "", "", false, 0},
		{"W7", "gRPC/Remoting W2p ack p99", "ratio_w2p_p99_us", "", "", true, 0},
		{"W8:enqueue", "msg/s", "msgs_per_sec", "", "", false, 0},
		{"W8", "lateness p50 µs", "p50_us", "", "", true, 0},
		{"W8", "lateness p99 µs", "p99_us", "", "", true, 0},
		{"W8", "lateness max µs", "max_us", "", "", true, 0},
		{"W8", "anon RSS MiB", "rss_anon_mib", "", "", true, 0},
		{"W8", "file RSS MiB", "rss_file_mib", "", "", true, 0},
	}
}

// ParseQuiverRuns reads Quiver's JSON lines (what `quiver bench workload
// --json` prints); other lines are skipped. Nested objects (rss) are
// flattened: their fields join the top level.
func ParseQuiverRuns(r io.Reader) ([]Run, error) {
	var runs []Run
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(line, "{") {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			return nil, fmt.Errorf("bench: quiver results line %d: %w", n, err)
		}
		w, _ := m["workload"].(string)
		if w == "" {
			continue
		}
		run := Run{System: SystemQuiver, Workload: w, Metrics: map[string]float64{}}
		flatten(run.Metrics, m)
		runs = append(runs, run)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("bench: quiver results: %w", err)
	}
	return runs, nil
}

func flatten(dst map[string]float64, m map[string]any) {
	for k, v := range m {
		switch v := v.(type) {
		case float64:
			dst[k] = v
		case map[string]any:
			flatten(dst, v)
		}
	}
}

// ParseJetStreamRuns reads jsbench's RESULT lines; other lines are skipped.
// Values that are not numbers (mode=sync) are left out.
func ParseJetStreamRuns(r io.Reader) ([]Run, error) {
	var runs []Run
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "RESULT ") {
			continue
		}
		run := Run{System: SystemJetStream, Metrics: map[string]float64{}}
		for _, kv := range strings.Fields(line)[1:] {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				continue
			}
			switch k {
			case "label":
				run.Label = v
			case "workload":
				run.Workload = v
			default:
				if x, err := strconv.ParseFloat(v, 64); err == nil {
					run.Metrics[k] = x
				}
			}
		}
		runs = append(runs, run)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("bench: jetstream results: %w", err)
	}
	return runs, nil
}

// Spread is the median, minimum and maximum of a metric over repetitions.
type Spread struct {
	N      int     `json:"n"`
	Median float64 `json:"median"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
}

func spreadOf(v []float64) Spread {
	if len(v) == 0 {
		return Spread{}
	}
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	med := s[n/2]
	if n%2 == 0 {
		med = (s[n/2-1] + s[n/2]) / 2
	}
	return Spread{N: n, Median: med, Min: s[0], Max: s[n-1]}
}

// Comparison is one row of the table, computed.
type Comparison struct {
	Workload  string  `json:"workload"`
	Metric    string  `json:"metric"`
	Quiver    Spread  `json:"quiver"`
	JetStream *Spread `json:"jetstream,omitempty"`
	// Ratio is Quiver's median over JetStream's; 0 when either is missing.
	Ratio float64 `json:"ratio,omitempty"`
	Goal  float64 `json:"goal,omitempty"`
	Lower bool    `json:"lower_is_better,omitempty"`
	// Met says whether the goal is met (nil: no goal or no ratio).
	Met *bool `json:"goal_met,omitempty"`
}

// Compare computes rows over runs, leaving out rows with no Quiver runs.
func Compare(rows []Row, runs []Run) []Comparison {
	var out []Comparison
	for _, row := range rows {
		var q, j []float64
		for _, r := range runs {
			switch {
			case r.System == SystemQuiver && r.Workload == row.Workload:
				if v, ok := r.Metrics[row.QField]; ok {
					q = append(q, v)
				}
			case r.System == SystemJetStream && row.JSLabel != "" && strings.HasPrefix(r.Label, row.JSLabel):
				if v, ok := r.Metrics[row.JSField]; ok {
					j = append(j, v)
				}
			}
		}
		if len(q) == 0 {
			continue
		}
		c := Comparison{Workload: row.Workload, Metric: row.Metric, Quiver: spreadOf(q), Goal: row.Goal, Lower: row.Lower}
		if len(j) > 0 {
			js := spreadOf(j)
			c.JetStream = &js
			if js.Median != 0 {
				c.Ratio = c.Quiver.Median / js.Median
				if row.Goal > 0 {
					met := c.Ratio >= row.Goal
					if row.Lower {
						met = c.Ratio <= row.Goal
					}
					c.Met = &met
				}
			}
		}
		out = append(out, c)
	}
	return out
}

func fmtNum(v float64) string {
	switch a := math.Abs(v); {
	case a >= 100:
		return strconv.FormatFloat(math.Round(v), 'f', 0, 64)
	case a >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	default:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
}

func (s Spread) String() string {
	if s.N == 0 {
		return "—"
	}
	if s.N == 1 {
		return fmtNum(s.Median)
	}
	return fmt.Sprintf("%s (%s–%s)", fmtNum(s.Median), fmtNum(s.Min), fmtNum(s.Max))
}

// WriteMarkdown writes cs as a markdown table: median (min–max) of each
// system over its repetitions, the ratio of the medians and the goal.
func WriteMarkdown(w io.Writer, cs []Comparison) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintln(bw, "| workload | metric | Quiver median (min–max) | JetStream median (min–max) | ratio Q/JS | goal | reps Q/JS |")
	fmt.Fprintln(bw, "| --- | --- | --- | --- | --- | --- | --- |")
	for _, c := range cs {
		js, ratio, goal, n := "—", "—", "", strconv.Itoa(c.Quiver.N)
		if c.JetStream != nil {
			js, n = c.JetStream.String(), n+"/"+strconv.Itoa(c.JetStream.N)
		}
		if c.Ratio != 0 {
			ratio = fmt.Sprintf("%.2f", c.Ratio)
		}
		if c.Goal > 0 {
			op := "≥"
			if c.Lower {
				op = "≤"
			}
			goal = fmt.Sprintf("%s %.4g", op, c.Goal)
			if c.Met != nil {
				if *c.Met {
					goal += " met"
				} else {
					goal += " **not met**"
				}
			}
		}
		fmt.Fprintf(bw, "| %s | %s | %s | %s | %s | %s | %s |\n", c.Workload, c.Metric, c.Quiver, js, ratio, goal, n)
	}
	return bw.Flush()
}

// WriteJSONLines writes every run, then every comparison, one JSON object a
// line, each with a "type" of "run" or "comparison".
func WriteJSONLines(w io.Writer, runs []Run, cs []Comparison) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	for _, r := range runs {
		if err := enc.Encode(struct {
			Type string `json:"type"`
			Run
		}{"run", r}); err != nil {
			return fmt.Errorf("bench: results: %w", err)
		}
	}
	for _, c := range cs {
		if err := enc.Encode(struct {
			Type string `json:"type"`
			Comparison
		}{"comparison", c}); err != nil {
			return fmt.Errorf("bench: results: %w", err)
		}
	}
	return bw.Flush()
}
