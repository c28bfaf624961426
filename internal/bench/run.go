package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Config describes one produce, consume or end-to-end run. Zero fields take
// the defaults of DefaultConfig.
type Config struct {
	Namesrv   string
	Topic     string        // "" → a fresh topic with a unique name
	Group     string        // consumer group; "" → derived from the topic
	Size      int           // body bytes (default 1024)
	Producers int           // producers, one TCP connection each (default 1)
	Window    int           // in-flight sends per producer; 1 = closed loop (default 1)
	Count     int           // messages in total; 0 = bounded by Duration only
	Duration  time.Duration // wall-clock bound (default 10 s)
	Rate      float64       // msg/s over all producers on an absolute schedule; 0 = as fast as acked
	Warmup    time.Duration // e2e: messages due in the first Warmup are not in the percentiles
	Queues    int           // queues of a created topic (default 8)
	Batch     int           // pull batch (default 32)
	// CommitEvery commits a queue's offset once this many messages were
	// consumed from it since the last commit; 0 commits after every batch;
	// 1 acknowledges every message on its own (a one-way
	// UPDATE_CONSUMER_OFFSET of its queue offset + 1).
	CommitEvery int
	// Progress receives a line per second while running; nil for none.
	Progress io.Writer
	// Name labels progress lines and the result.
	Name string
}

// DefaultConfig is a 1 KiB closed-loop producer for 10 s.
func DefaultConfig() Config {
	return Config{Size: 1024, Producers: 1, Window: 1, Duration: 10 * time.Second, Queues: 8, Batch: 32}
}

func (c *Config) fill() {
	d := DefaultConfig()
	if c.Size <= 0 {
		c.Size = d.Size
	}
	if c.Producers <= 0 {
		c.Producers = d.Producers
	}
	if c.Window <= 0 {
		c.Window = d.Window
	}
	if c.Duration <= 0 {
		c.Duration = d.Duration
	}
	if c.Queues <= 0 {
		c.Queues = d.Queues
	}
	if c.Batch <= 0 {
		c.Batch = d.Batch
	}
	if c.Group == "" {
		c.Group = "bench-" + c.Topic
	}
}

// Validate reports a configuration no run can use.
func (c *Config) Validate() error {
	if c.Namesrv == "" {
		return errors.New("bench: name server address is required")
	}
	if c.Size < 16 && c.Rate > 0 {
		return errors.New("bench: paced runs need --size ≥ 16 (two timestamps in the body)")
	}
	return nil
}

// Result is the outcome of one workload; its JSON form is what --json prints.
type Result struct {
	Workload   string  `json:"workload"`
	Topic      string  `json:"topic,omitempty"`
	Msgs       int64   `json:"msgs"`
	Errors     int64   `json:"errors"`
	Seconds    float64 `json:"seconds"`
	MsgsPerSec float64 `json:"msgs_per_sec"`
	MiBPerSec  float64 `json:"mib_per_sec"`
	Size       int     `json:"size"`
	Producers  int     `json:"producers,omitempty"`
	Window     int     `json:"window,omitempty"`
	Batch      int     `json:"batch,omitempty"`
	AvgUs      float64 `json:"avg_us"`
	P50Us      float64 `json:"p50_us"`
	P90Us      float64 `json:"p90_us"`
	P99Us      float64 `json:"p99_us"`
	P999Us     float64 `json:"p999_us"`
	MaxUs      float64 `json:"max_us"`
	// Paced and end-to-end runs.
	RateTarget float64  `json:"rate_target,omitempty"`
	LateSends  *int64   `json:"late_sends,omitempty"`
	SentP50Us  *float64 `json:"sent_p50_us,omitempty"` // e2e latency from the actual send time
	SentP99Us  *float64 `json:"sent_p99_us,omitempty"`
	// Consume runs: sum over queues of the committed offsets after the run
	// (gRPC: the messages acked).
	Committed *int64 `json:"committed,omitempty"`
	// Produced is how many messages the producer of an e2e run had acked.
	Produced *int64 `json:"produced,omitempty"`
	// RSS of the broker (W6a, W6b, W8), MiB.
	RSS *RSS `json:"rss,omitempty"`
	// Topics created (W6b).
	Topics *int64 `json:"topics,omitempty"`
	// Timer messages (W8): how many arrived more than a millisecond before
	// their delivery time, never arrived, or arrived more than once; W3:pop
	// sets Missing and Duplicates (queue offsets never or twice received).
	Early      *int64 `json:"early,omitempty"`
	Missing    *int64 `json:"missing,omitempty"`
	Duplicates *int64 `json:"duplicates,omitempty"`
	// Transport is TransportRemoting or TransportGRPC; "" is Remoting.
	Transport string `json:"transport,omitempty"`
	// FirstError is the first failed send's error, when any failed.
	FirstError string `json:"first_error,omitempty"`
	// Of names the result whose figures a headline repeats (W7: the gRPC
	// W2p variant).
	Of string `json:"of,omitempty"`
	// GRPC holds W7's ratios gRPC / Remoting of the medians.
	GRPC *GRPCRatios `json:"grpc_over_remoting,omitempty"`
}

// The transports a run speaks.
const (
	TransportRemoting = "remoting"
	TransportGRPC     = "grpc"
)

// GRPCRatios are W7's ratios gRPC / Remoting of the medians over Reps
// repetitions of each variant; their JSON names are also the fields the
// report reads.
type GRPCRatios struct {
	Reps          int     `json:"w7_reps"`
	W1MsgsPerSec  float64 `json:"ratio_w1_msgs_per_sec"`
	W1P50         float64 `json:"ratio_w1_p50_us"`
	W1P99         float64 `json:"ratio_w1_p99_us"`
	W2pMsgsPerSec float64 `json:"ratio_w2p_msgs_per_sec"`
	W2pP50        float64 `json:"ratio_w2p_p50_us"`
	W2pP99        float64 `json:"ratio_w2p_p99_us"`
}

func us(ns int64) float64 { return float64(ns) / 1e3 }

func (r *Result) setLatency(h *Histogram) {
	r.AvgUs = h.Mean() / 1e3
	r.P50Us, r.P90Us = us(h.Quantile(0.5)), us(h.Quantile(0.9))
	r.P99Us, r.P999Us, r.MaxUs = us(h.Quantile(0.99)), us(h.Quantile(0.999)), us(h.Max())
}

func (r *Result) setRate(msgs int64, el time.Duration, size int) {
	r.Msgs, r.Seconds, r.Size = msgs, el.Seconds(), size
	if el > 0 {
		r.MsgsPerSec = float64(msgs) / el.Seconds()
		r.MiBPerSec = r.MsgsPerSec * float64(size) / (1 << 20)
	}
}

// Summary is a one-line human summary.
func (r *Result) Summary() string {
	name := r.Workload
	switch {
	case r.Of != "":
		name += " (figures of " + r.Of + ")"
	case r.Transport == TransportGRPC && !strings.Contains(name, TransportGRPC):
		name += " (gRPC)"
	}
	s := fmt.Sprintf("%s: %d msgs in %.2fs = %.0f msg/s, %.1f MiB/s", name, r.Msgs, r.Seconds, r.MsgsPerSec, r.MiBPerSec)
	if r.MaxUs > 0 {
		s += fmt.Sprintf("; latency avg %.0fµs p50 %.0fµs p99 %.0fµs p99.9 %.0fµs max %.0fµs", r.AvgUs, r.P50Us, r.P99Us, r.P999Us, r.MaxUs)
	}
	if r.Errors > 0 {
		s += fmt.Sprintf("; %d errors", r.Errors)
		if r.FirstError != "" {
			s += " (first: " + r.FirstError + ")"
		}
	}
	if g := r.GRPC; g != nil {
		s += fmt.Sprintf("; gRPC / Remoting (medians of %d): W1 msg/s %.2f, p50 %.2f, p99 %.2f; W2p msg/s %.2f, p50 %.2f, p99 %.2f",
			g.Reps, g.W1MsgsPerSec, g.W1P50, g.W1P99, g.W2pMsgsPerSec, g.W2pP50, g.W2pP99)
	}
	if r.LateSends != nil {
		s += fmt.Sprintf("; %d late sends", *r.LateSends)
	}
	if r.SentP50Us != nil {
		s += fmt.Sprintf("; from actual send p50 %.0fµs p99 %.0fµs", *r.SentP50Us, *r.SentP99Us)
	}
	if r.Committed != nil {
		s += fmt.Sprintf("; committed %d", *r.Committed)
	}
	if r.Topics != nil {
		s += fmt.Sprintf("; %d topics", *r.Topics)
	}
	switch {
	case r.Early != nil:
		s += fmt.Sprintf("; %d early, %d missing, %d duplicates", *r.Early, deref(r.Missing), deref(r.Duplicates))
	case r.Missing != nil || r.Duplicates != nil:
		s += fmt.Sprintf("; %d missing, %d duplicates", deref(r.Missing), deref(r.Duplicates))
	}
	if r.RSS != nil {
		s += fmt.Sprintf("; broker RSS %.0f MiB (peak %.0f), anon %.0f MiB, file %.0f MiB", r.RSS.VmRSS, r.RSS.VmHWM, r.RSS.RssAnon, r.RSS.RssFile)
	}
	return s
}

// recorder is one worker's share of a meter.
type recorder struct {
	mu   sync.Mutex
	h    Histogram // since the last tick
	msgs int64
}

func (r *recorder) record(lat time.Duration) {
	r.mu.Lock()
	r.h.RecordDuration(lat)
	r.msgs++
	r.mu.Unlock()
}

func (r *recorder) count(n int) {
	r.mu.Lock()
	r.msgs += int64(n)
	r.mu.Unlock()
}

// meter gathers recorders into per-second progress and a total.
type meter struct {
	name  string
	size  int
	out   io.Writer
	mu    sync.Mutex
	recs  []*recorder
	total Histogram
	msgs  int64
	start time.Time
	last  time.Time
	stop  chan struct{}
	done  chan struct{}
}

func newMeter(name string, size int, out io.Writer) *meter {
	return &meter{name: name, size: size, out: out, stop: make(chan struct{}), done: make(chan struct{})}
}

func (m *meter) recorder() *recorder {
	r := &recorder{}
	m.mu.Lock()
	m.recs = append(m.recs, r)
	m.mu.Unlock()
	return r
}

// begin starts the clock and, with an output, the per-second ticker.
func (m *meter) begin() {
	m.start = time.Now()
	m.last = m.start
	if m.out == nil {
		close(m.done)
		return
	}
	go func() {
		defer close(m.done)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-m.stop:
				return
			case <-t.C:
				m.tick(true)
			}
		}
	}()
}

// tick moves every recorder's counts into the total; with print it writes
// a progress line for the interval.
func (m *meter) tick(print bool) {
	var iv Histogram
	var n int64
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, r := range m.recs {
		r.mu.Lock()
		iv.Merge(&r.h)
		r.h.Reset()
		n += r.msgs
		r.msgs = 0
		r.mu.Unlock()
	}
	m.total.Merge(&iv)
	m.msgs += n
	now := time.Now()
	el := now.Sub(m.last)
	m.last = now
	if print && m.out != nil {
		rate := float64(n) / el.Seconds()
		line := fmt.Sprintf("[%s] %5.1fs %8.0f msg/s %7.1f MiB/s total %d", m.name, now.Sub(m.start).Seconds(), rate, rate*float64(m.size)/(1<<20), m.msgs)
		if iv.Count() > 0 {
			line += fmt.Sprintf(" | lat avg %.0fµs p50 %.0fµs p99 %.0fµs p99.9 %.0fµs max %.0fµs",
				iv.Mean()/1e3, us(iv.Quantile(0.5)), us(iv.Quantile(0.99)), us(iv.Quantile(0.999)), us(iv.Max()))
		}
		fmt.Fprintln(m.out, line)
	}
}

// end stops the ticker and returns the totals and the elapsed time.
func (m *meter) end() (*Histogram, int64, time.Duration) {
	el := time.Since(m.start)
	select {
	case <-m.stop:
	default:
		close(m.stop)
	}
	<-m.done
	m.tick(false)
	return &m.total, m.msgs, el
}

// payload is size pseudo-random (incompressible) bytes, as jsbench makes.
func payload(size int) []byte {
	b := make([]byte, size)
	x := uint32(2463534242)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}

// schedule hands out message numbers and, when paced, their due times.
type schedule struct {
	next     atomic.Int64
	limit    int64 // 0 = none
	deadline time.Time
	start    time.Time
	interval time.Duration // 0 = unpaced
	stamp    bool          // write due and actual send times into the body
	late     atomic.Int64
}

// take returns the next message number and its due time, or false when the
// run is over (count reached or deadline passed). A paced take sleeps until
// the message is due.
func (s *schedule) take() (int64, time.Time, bool) {
	i := s.next.Add(1) - 1
	if s.limit > 0 && i >= s.limit {
		return 0, time.Time{}, false
	}
	now := time.Now()
	if s.interval == 0 {
		if now.After(s.deadline) {
			return 0, time.Time{}, false
		}
		return i, now, true
	}
	due := s.start.Add(time.Duration(i) * s.interval)
	if due.After(s.deadline) {
		return 0, time.Time{}, false
	}
	if d := due.Sub(now); d > 0 {
		time.Sleep(d)
	} else if d < -time.Millisecond {
		s.late.Add(1)
	}
	return i, due, true
}

func newSchedule(cfg Config, start time.Time) *schedule {
	s := &schedule{limit: int64(cfg.Count), start: start, deadline: start.Add(cfg.Duration)}
	if cfg.Rate > 0 {
		s.interval = time.Duration(float64(time.Second) / cfg.Rate)
	}
	return s
}

// Produce runs producers against tgt (see Config) and reports acked msg/s
// and send→ack latency.
func Produce(ctx context.Context, cfg Config, tgt *Target) (Result, error) {
	cfg.fill()
	m := newMeter(cfg.Name, cfg.Size, cfg.Progress)
	m.begin()
	sch := newSchedule(cfg, m.start)
	errs, err := produceRun(ctx, cfg, tgt, m, sch, plan{})
	h, n, el := m.end()
	r := Result{Workload: cfg.Name, Topic: tgt.Topic, Errors: errs, Producers: cfg.Producers, Window: cfg.Window}
	r.setRate(n, el, cfg.Size)
	r.setLatency(h)
	if cfg.Rate > 0 {
		late := sch.late.Load()
		r.RateTarget, r.LateSends = cfg.Rate, &late
	}
	return r, err
}
