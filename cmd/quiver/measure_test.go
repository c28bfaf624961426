package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	rocketmq "github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
	"github.com/apache/rocketmq-client-go/v2/rlog"
)

// TestMeasureServe reports `quiver serve` start-up time, idle RSS and RSS
// after storing 1,000,000 × 1 KiB. It is a measurement, not a check: it runs
// only with QUIVER_MEASURE=1 and asserts nothing about the figures.
//
//	QUIVER_MEASURE=1 go test -run TestMeasureServe -v ./cmd/quiver
func TestMeasureServe(t *testing.T) {
	if os.Getenv("QUIVER_MEASURE") == "" {
		t.Skip("set QUIVER_MEASURE=1 to measure")
	}
	rlog.SetLogLevel("error")
	bin := quiverBinary(t)
	_ = bin
	t0 := time.Now()
	p := startServe(t, t.TempDir())
	t.Logf("start-up to ready: %v", time.Since(t0))
	time.Sleep(2 * time.Second)
	t.Logf("idle: %s", rss(p.cmd.Process.Pid))

	prod, err := rocketmq.NewProducer(
		producer.WithNsResolver(primitive.NewPassthroughResolver([]string{p.namesrvAddr})),
		producer.WithGroupName("MeasurePG"),
		producer.WithInstanceName(fmt.Sprint("m-", time.Now().UnixNano())),
	)
	if err != nil {
		t.Fatal(err)
	}
	if err := prod.Start(); err != nil {
		t.Fatal(err)
	}
	defer prod.Shutdown()
	body := make([]byte, 1024)
	const total, batch = 1_000_000, 64
	var sent atomic.Int64
	start := time.Now()
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for sent.Add(batch) <= total {
				msgs := make([]*primitive.Message, batch)
				for i := range msgs {
					msgs[i] = primitive.NewMessage("MeasureTopic", body)
				}
				if _, err := prod.SendSync(context.Background(), msgs...); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	el := time.Since(start)
	t.Logf("stored %d × 1 KiB in %v (%.0f msg/s)", total, el, float64(total)/el.Seconds())
	time.Sleep(2 * time.Second)
	t.Logf("after 1M × 1 KiB: %s", rss(p.cmd.Process.Pid))
}

func rss(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return err.Error()
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		for _, k := range []string{"VmRSS", "RssAnon", "RssFile"} {
			if strings.HasPrefix(l, k+":") {
				out = append(out, strings.Join(strings.Fields(l), " "))
			}
		}
	}
	return strings.Join(out, ", ")
}

// TestMeasurePendingTimers reports the RSS of `quiver serve` before and
// after 1,000,000 × 1 KiB timer messages due in 30 to 40 minutes are
// pending: they cost disk (commit log, timer log), not memory. Not a check.
//
//	QUIVER_MEASURE=1 go test -run TestMeasurePendingTimers -v ./cmd/quiver
func TestMeasurePendingTimers(t *testing.T) {
	if os.Getenv("QUIVER_MEASURE") == "" {
		t.Skip("set QUIVER_MEASURE=1 to measure")
	}
	rlog.SetLogLevel("error")
	p := startServe(t, t.TempDir())
	time.Sleep(2 * time.Second)
	t.Logf("idle: %s", rss(p.cmd.Process.Pid))
	prod, err := rocketmq.NewProducer(
		producer.WithNsResolver(primitive.NewPassthroughResolver([]string{p.namesrvAddr})),
		producer.WithGroupName("MeasureTimerPG"),
		producer.WithInstanceName(fmt.Sprint("mt-", time.Now().UnixNano())),
	)
	if err != nil {
		t.Fatal(err)
	}
	if err := prod.Start(); err != nil {
		t.Fatal(err)
	}
	defer prod.Shutdown()
	body := make([]byte, 1024)
	const total = 1_000_000
	base := time.Now().Add(30 * time.Minute).UnixMilli()
	var next atomic.Int64
	start := time.Now()
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= total {
					return
				}
				m := primitive.NewMessage("MeasureTimerTopic", body)
				m.WithProperty("TIMER_DELIVER_MS", fmt.Sprint(base+i*600_000/total))
				if _, err := prod.SendSync(context.Background(), m); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	el := time.Since(start)
	t.Logf("sent %d timers in %v (%.0f msg/s)", total, el, float64(total)/el.Seconds())
	time.Sleep(3 * time.Second)
	t.Logf("with 1M pending timers: %s", rss(p.cmd.Process.Pid))
}
