package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

// Errors returned by Workload.
var (
	// ErrUnknownWorkload: the name is not one of WORKLOADS.md (Workload).
	ErrUnknownWorkload = errors.New("bench: unknown workload")
	// ErrNotImplemented: the workload needs a feature Quiver lacks (Workload).
	ErrNotImplemented = errors.New("bench: workload not implemented")
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
	// Count and Duration, when set, replace the workload's own bounds
	// (tests run tiny versions); Count scales the backlog of W3 and W6a.
	Count    int
	Duration time.Duration
	// BrokerPID, when set, adds broker RSS results (W3, W6a).
	BrokerPID int
	// Out receives progress lines; nil for none.
	Out io.Writer
}

// WorkloadNames lists the names Workload accepts.
func WorkloadNames() []string {
	return []string{"W1", "W2", "W2p", "W3", "W3b", "W4", "W5", "W6a", "W6b", "W7", "W8"}
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
		for _, c := range []Config{w1("W5:W1"), w2("W5:W2"), w2p("W5:W2p")} {
			r, err := produceFresh(ctx, c)
			out = append(out, r)
			if err != nil {
				return out, err
			}
		}
		c := w4("W5:W4", 200)
		tgt, err := fresh(ctx, &c)
		if err != nil {
			return out, err
		}
		r, err := E2E(ctx, c, tgt)
		return append(out, r), err
	case "W6b":
		return nil, fmt.Errorf("%w: W6b (10,000 topics × 4 queues, 1,000,000 messages) is not implemented in quiver bench yet", ErrNotImplemented)
	case "W7":
		return nil, fmt.Errorf("%w: W7 needs the gRPC proxy (MessagingService), which Quiver does not have yet", ErrNotImplemented)
	case "W8":
		return nil, fmt.Errorf("%w: W8 needs timer messages (timer wheel), which Quiver does not have yet", ErrNotImplemented)
	}
	return nil, fmt.Errorf("%w: %q (known: %s)", ErrUnknownWorkload, name, strings.Join(WorkloadNames(), ", "))
}

// backlog runs W3, W3b and W6a: fill a fresh topic with the W2p method,
// then drain it with PULL (batch 32: our remoting has no POP yet). W3
// commits each queue's offset after every batch of 32; W3b commits once at
// least 100 messages of the queue were consumed. W3 runs both drains on
// the one backlog (two consumer groups) and returns fill, W3b, W3 (W3 last);
// W3b returns fill, W3b; W6a returns fill, RSS after fill + 2 s idle, W3,
// RSS after the drain.
func backlog(ctx context.Context, name string, o WorkloadOptions) ([]Result, error) {
	n := 1_000_000
	if o.Count > 0 {
		n = o.Count
	}
	fc := o.base(name+":fill", n, 120*time.Second)
	fc.Count, fc.Window = n, 256
	if o.Duration > 0 {
		fc.Duration = o.Duration
	}
	tgt, err := fresh(ctx, &fc)
	if err != nil {
		return nil, err
	}
	fill, err := Produce(ctx, fc, tgt)
	out := []Result{fill}
	if err != nil {
		return out, err
	}
	rss := func(label string) error {
		if o.BrokerPID == 0 {
			if name == "W6a" {
				return errors.New("bench: W6a needs --broker-pid")
			}
			return nil
		}
		r, err := ReadRSS(o.BrokerPID)
		if err != nil {
			return err
		}
		out = append(out, Result{Workload: label, RSS: &r})
		return nil
	}
	if o.BrokerPID != 0 || name == "W6a" {
		time.Sleep(2 * time.Second)
		if err := rss("W6a:rss-after-fill"); err != nil {
			return out, err
		}
	}
	drain := func(label string, every int) (Result, error) {
		c := o.base(label, int(fill.Msgs), 120*time.Second)
		c.Topic, c.Group, c.Count, c.CommitEvery = tgt.Topic, "", int(fill.Msgs), every
		if o.Duration > 0 {
			c.Duration = o.Duration
		}
		c.Group = FreshTopic("bench-" + strings.ToLower(label))
		return Consume(ctx, c, tgt)
	}
	var w3, w3b Result
	if name != "W3b" {
		if w3, err = drain("W3", 0); err != nil {
			return append(out, w3), err
		}
	}
	if name != "W6a" {
		if w3b, err = drain("W3b", 100); err != nil {
			return append(out, w3b), err
		}
		out = append(out, w3b)
	}
	if name == "W6a" {
		out = append(out, w3)
		err = rss("W6a:rss-after-drain")
		return out, err
	}
	if name == "W3" {
		out = append(out, w3)
	}
	return out, nil
}
