package bench

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Errors returned by Workload.
var (
	// ErrUnknownWorkload: the name is not one of WORKLOADS.md (Workload).
	ErrUnknownWorkload = errors.New("bench: unknown workload")
)

// RSS is a process's memory from /proc/PID/status, MiB.
type RSS struct {
	VmRSS   float64 `json:"vm_rss_mib"`
	VmHWM   float64 `json:"vm_hwm_mib"`
	RssAnon float64 `json:"rss_anon_mib"`
	RssFile float64 `json:"rss_file_mib"`
}

// ReadRSS reads VmRSS, VmHWM, RssAnon and RssFile of pid.
func ReadRSS(pid int) (RSS, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return RSS{}, fmt.Errorf("bench: rss: %w", err)
	}
	var r RSS
	for line := range strings.SplitSeq(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseFloat(f[1], 64)
		switch f[0] {
		case "VmRSS:":
			r.VmRSS = kb / 1024
		case "VmHWM:":
			r.VmHWM = kb / 1024
		case "RssAnon:":
			r.RssAnon = kb / 1024
		case "RssFile:":
			r.RssFile = kb / 1024
		}
	}
	return r, nil
}

// FreshTopic is a topic name no earlier run used.
func FreshTopic(prefix string) string {
	return fmt.Sprintf("%s-%d", prefix, time.Now().UnixNano())
}

// WorkloadOptions configure Workload.
type WorkloadOptions struct {
	Namesrv string
	// Proxy is the gRPC proxy's HOST:PORT (W7).
	Proxy string
	// Reps repeats W7's four variants, interleaved (default 1).
	Reps int
	// Count and Duration, when set, replace the workload's own bounds
	// (tests run tiny versions); Count scales the backlog of W3 and W6a.
	Count    int
	Duration time.Duration
	// BrokerPID, when set, adds broker RSS results (W3, W6a, W6b, W8).
	BrokerPID int
	// Topics, when set, replaces W6b's 10,000 topics.
	Topics int
	// Spread, when set, replaces W8's 60 s over which delivery times are
	// spread.
	Spread time.Duration
	// Out receives progress lines; nil for none.
	Out io.Writer
}

// WorkloadNames lists the names Workload accepts.
func WorkloadNames() []string {
	return []string{"W1", "W2", "W2p", "W3", "W3b", "W4", "W5", "W5:W1", "W5:W2", "W5:W2p", "W5:W4", "W6a", "W6b", "W7", "W8"}
}

func (o WorkloadOptions) base(name string, count int, dur time.Duration) Config {
	c := DefaultConfig()
	c.Namesrv, c.Name, c.Count, c.Duration = o.Namesrv, name, count, dur
	if o.Count > 0 {
		c.Count = o.Count
	}
	if o.Duration > 0 {
		c.Duration = o.Duration
	}
	if o.Out != nil {
		c.Progress = o.Out
	}
	return c
}

// fresh prepares a new topic for c.
func fresh(ctx context.Context, c *Config) (*Target, error) {
	c.Topic = FreshTopic("bench-" + strings.ToLower(strings.SplitN(c.Name, ":", 2)[0]))
	c.Group = ""
	return Prepare(ctx, c.Namesrv, c.Topic, c.Queues)
}

func produceFresh(ctx context.Context, c Config) (Result, error) {
	tgt, err := fresh(ctx, &c)
	if err != nil {
		return Result{}, err
	}
	return Produce(ctx, c, tgt)
}

// Workload runs one workload of WORKLOADS.md and returns its results, the
// workload's headline result last.
func Workload(ctx context.Context, name string, o WorkloadOptions) ([]Result, error) {
	if o.Namesrv == "" {
		return nil, errors.New("bench: name server address is required")
	}
	w1 := func(n string) Config { return o.base(n, 30_000, 5*time.Second) }
	w2 := func(n string) Config { c := o.base(n, 120_000, 5*time.Second); c.Producers = 8; return c }
	w2p := func(n string) Config { c := o.base(n, 400_000, 5*time.Second); c.Window = 256; return c }
	w4 := func(n string, rate float64) Config {
		c := o.base(n, 0, 10*time.Second)
		c.Rate, c.Window, c.Warmup = rate, 256, time.Second
		if o.Duration == 0 {
			c.Duration = 10 * time.Second
		}
		c.Count = 0 // bounded by the schedule
		return c
	}
	switch name {
	case "W1":
		r, err := produceFresh(ctx, w1("W1"))
		return []Result{r}, err
	case "W2":
		r, err := produceFresh(ctx, w2("W2"))
		return []Result{r}, err
	case "W2p":
		r, err := produceFresh(ctx, w2p("W2p"))
		return []Result{r}, err
	case "W3", "W3b", "W6a":
		return backlog(ctx, name, o)
	case "W4":
		c := w4("W4", 5000)
		tgt, err := fresh(ctx, &c)
		if err != nil {
			return nil, err
		}
		r, err := E2E(ctx, c, tgt)
		return []Result{r}, err
	case "W5":
		// The broker must run with SYNC_FLUSH (quiver serve --sync-flush).
		var out []Result
		for _, part := range []string{"W5:W1", "W5:W2", "W5:W2p", "W5:W4"} {
			rs, err := Workload(ctx, part, o)
			out = append(out, rs...)
			if err != nil {
				return out, err
			}
		}
		return out, nil
	case "W5:W1":
		r, err := produceFresh(ctx, w1(name))
		return []Result{r}, err
	case "W5:W2":
		r, err := produceFresh(ctx, w2(name))
		return []Result{r}, err
	case "W5:W2p":
		r, err := produceFresh(ctx, w2p(name))
		return []Result{r}, err
	case "W5:W4":
		c := w4(name, 200)
		tgt, err := fresh(ctx, &c)
		if err != nil {
			return nil, err
		}
		r, err := E2E(ctx, c, tgt)
		return []Result{r}, err
	case "W6b":
		return manyTopics(ctx, o)
	case "W7":
		return grpcOverhead(ctx, o, w1, w2p)
	case "W8":
		return timers(ctx, o)
	}
	return nil, fmt.Errorf("%w: %q (known: %s)", ErrUnknownWorkload, name, strings.Join(WorkloadNames(), ", "))
}

// backlog runs W3, W3b and W6a: fill a fresh topic with the W2p method
// (the W3:fill result), then drain it with PULL, batch 32 (the largest a
// RocketMQ client asks for), 8 queues pulled at once over one connection,
// so at most 768 messages are unacknowledged (consumeRun). The W3 drain
// acknowledges every message on its own: one one-way
// UPDATE_CONSUMER_OFFSET per message, as JetStream's per-message Ack is one
// message to the server. The W3b drain commits a queue's offset once at
// least 100 of its messages were consumed since the last commit. Both
// drains read the one backlog, each with a consumer group of its own, and
// check at the end that the committed offsets add up to what was consumed.
//
// W3 then drains the same backlog a third time with POP (result
// "W3:pop", PopConsume): POP_MESSAGE batch 32 (the most the broker
// allows), one in flight per queue, at most PopMaxUnacked (1,000) messages
// unacknowledged, one request/response ACK_MESSAGE per message, its own
// consumer group; it checks that every message arrived exactly once and
// that the consume offsets reach the max offsets. W3 stays the headline
// (the JetStream comparison was made on the PULL drain); it runs after
// the PULL drains and after the broker's RSS is read, so neither sees its
// revive-topic writes.
//
// With a broker pid (required for W6a) the broker's RSS is read after the
// fill plus 2 s idle (result "W6a") and after the PULL drains
// ("W6a:after-drain"). Results, the workload's headline last:
//
//	W3:  W3:fill [W6a] W3b [W6a:after-drain] W3:pop W3
//	W3b: W3b:fill W3b
//	W6a: W6a:fill W3 W6a:after-drain W6a
func backlog(ctx context.Context, name string, o WorkloadOptions) ([]Result, error) {
	if name == "W6a" && o.BrokerPID == 0 {
		return nil, errors.New("bench: W6a needs the broker's pid (--broker-pid)")
	}
	n := 1_000_000
	if o.Count > 0 {
		n = o.Count
	}
	fc := o.base(name+":fill", n, 120*time.Second)
	fc.Count, fc.Window = n, 256
	tgt, err := fresh(ctx, &fc)
	if err != nil {
		return nil, err
	}
	fill, err := Produce(ctx, fc, tgt)
	out := []Result{fill}
	if err != nil {
		return out, err
	}
	if fill.Msgs == 0 {
		return out, fmt.Errorf("bench: %s: the fill stored no message", name)
	}
	rss := func(label string) (Result, error) {
		r, err := ReadRSS(o.BrokerPID)
		if err != nil {
			return Result{}, err
		}
		return Result{Workload: label, RSS: &r}, nil
	}
	var afterFill Result
	if o.BrokerPID != 0 && name != "W3b" {
		time.Sleep(2 * time.Second)
		if afterFill, err = rss("W6a"); err != nil {
			return out, err
		}
		if name == "W3" {
			out = append(out, afterFill)
		}
	}
	drain := func(label string, every int) (Result, error) {
		c := o.base(label, int(fill.Msgs), 120*time.Second)
		c.Topic, c.Count, c.CommitEvery = tgt.Topic, int(fill.Msgs), every
		c.Group = FreshTopic("bench-" + strings.ToLower(label))
		r, err := Consume(ctx, c, tgt)
		if err == nil && (r.Msgs != fill.Msgs || r.Committed == nil || *r.Committed != r.Msgs) {
			err = fmt.Errorf("bench: %s consumed %d of %d messages and committed %d", label, r.Msgs, fill.Msgs, deref(r.Committed))
		}
		return r, err
	}
	var w3 Result
	if name != "W3b" {
		if w3, err = drain("W3", 1); err != nil {
			return append(out, w3), err
		}
		if name == "W6a" {
			out = append(out, w3)
		}
	}
	if name != "W6a" {
		w3b, err := drain("W3b", 100)
		out = append(out, w3b)
		if err != nil {
			return out, err
		}
	}
	if o.BrokerPID != 0 && name != "W3b" {
		after, err := rss("W6a:after-drain")
		if err != nil {
			return out, err
		}
		out = append(out, after)
	}
	switch name {
	case "W3":
		c := o.base("W3:pop", int(fill.Msgs), 120*time.Second)
		c.Topic, c.Count = tgt.Topic, int(fill.Msgs)
		c.Group = FreshTopic("bench-w3-pop")
		p, err := PopConsume(ctx, c, tgt)
		if err == nil && p.Msgs != fill.Msgs {
			err = fmt.Errorf("bench: W3:pop consumed %d of %d messages", p.Msgs, fill.Msgs)
		}
		out = append(out, p)
		if err != nil {
			return out, err
		}
		out = append(out, w3)
	case "W6a":
		out = append(out, afterFill)
	}
	return out, nil
}

func deref(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

// grpcOverhead runs W7: W1 and W2p over Remoting and through the gRPC proxy
// (one SendMessage per message), interleaved as W1 Remoting, W1 gRPC, W2p
// Remoting, W2p gRPC, o.Reps times, each on a fresh topic. Results: every
// variant's run ("W7:W1:remoting", "W7:W1:grpc", "W7:W2p:remoting",
// "W7:W2p:grpc"), then the headline "W7": the figures of the gRPC W2p run
// with the median msg/s (Of says so) and the ratios gRPC / Remoting of the
// medians of msg/s, p50 and p99 for W1 and W2p.
func grpcOverhead(ctx context.Context, o WorkloadOptions, w1, w2p func(string) Config) ([]Result, error) {
	if err := CheckProxyAddr(o.Proxy); err != nil {
		return nil, fmt.Errorf("W7: %w", err)
	}
	reps := max(o.Reps, 1)
	var out []Result
	byName := map[string][]Result{}
	for range reps {
		for _, part := range []string{"W1", "W2p"} {
			for _, tr := range []string{TransportRemoting, TransportGRPC} {
				name := "W7:" + part + ":" + tr
				c := w1(name)
				if part == "W2p" {
					c = w2p(name)
				}
				tgt, err := fresh(ctx, &c)
				if err != nil {
					return out, err
				}
				var r Result
				if tr == TransportGRPC {
					r, err = ProduceGRPC(ctx, c, o.Proxy, tgt)
				} else {
					r, err = Produce(ctx, c, tgt)
				}
				if err != nil {
					if r.Workload == "" {
						return out, fmt.Errorf("%s: %w", name, err)
					}
					return append(out, r), fmt.Errorf("%s: %w", name, err)
				}
				r.Transport = tr
				out = append(out, r)
				if r.Msgs == 0 {
					return out, fmt.Errorf("bench: %s stored no message (%d errors, first: %s)", name, r.Errors, r.FirstError)
				}
				byName[name] = append(byName[name], r)
			}
		}
	}
	med := func(name string, f func(Result) float64) float64 {
		v := make([]float64, 0, reps)
		for _, r := range byName[name] {
			v = append(v, f(r))
		}
		return spreadOf(v).Median
	}
	ratio := func(part string, f func(Result) float64) float64 {
		rem := med("W7:"+part+":"+TransportRemoting, f)
		if rem == 0 {
			return 0
		}
		return med("W7:"+part+":"+TransportGRPC, f) / rem
	}
	rate := func(r Result) float64 { return r.MsgsPerSec }
	p50 := func(r Result) float64 { return r.P50Us }
	p99 := func(r Result) float64 { return r.P99Us }
	// The headline repeats the gRPC W2p run of median msg/s (the lower
	// middle one for an even count).
	g := slices.Clone(byName["W7:W2p:"+TransportGRPC])
	slices.SortFunc(g, func(a, b Result) int { return cmp.Compare(a.MsgsPerSec, b.MsgsPerSec) })
	head := g[(len(g)-1)/2]
	head.Workload, head.Of, head.Topic = "W7", "W7:W2p:"+TransportGRPC, ""
	head.GRPC = &GRPCRatios{
		Reps:         reps,
		W1MsgsPerSec: ratio("W1", rate), W1P50: ratio("W1", p50), W1P99: ratio("W1", p99),
		W2pMsgsPerSec: ratio("W2p", rate), W2pP50: ratio("W2p", p50), W2pP99: ratio("W2p", p99),
	}
	return append(out, head), nil
}
