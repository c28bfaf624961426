package timer

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/quiver-mq/quiver/internal/message"
	"github.com/quiver-mq/quiver/internal/store"
	"github.com/quiver-mq/quiver/internal/vfs"
)

// benchHarness is a store on disk with a running timer service.
func benchHarness(b *testing.B) *harness {
	h, start := benchHarnessStopped(b)
	start()
	return h
}

// benchHarnessStopped opens the store and service; start runs the service.
func benchHarnessStopped(b *testing.B) (*harness, func()) {
	dir := b.TempDir()
	so := store.DefaultOptions(dir)
	so.WarmSegments = false
	so.IndexSlots, so.IndexEntries = 1<<16, 1<<22
	to := Options{Dir: dir, FS: vfs.Default, PrecisionMs: 100}
	so.FS = vfs.Default
	h := &harness{t: b}
	st, err := store.Open(so)
	if err != nil {
		b.Fatal(err)
	}
	h.st = st
	svc, err := Open(st, to)
	if err != nil {
		b.Fatal(err)
	}
	h.svc = svc
	h.stop = func() {}
	b.Cleanup(h.close)
	return h, func() { h.run() }
}

func (h *harness) run() {
	svc := h.svc
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); svc.Run(ctx) }()
	stopNotify := make(chan struct{})
	go func() {
		tk := time.NewTicker(time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-stopNotify:
				return
			case <-tk.C:
				svc.Notify(Topic, 0, 0)
			}
		}
	}()
	h.stop = func() { close(stopNotify); cancel(); <-done }
}

// putTimers stores n 1 KiB timer messages due at at(i), in batches.
func putTimers(b *testing.B, h *harness, n int, at func(i int) int64) {
	body := make([]byte, 1024)
	now := time.Now().UnixMilli()
	batch := make([]*message.Message, 0, 128)
	for i := range n {
		m := &message.Message{Topic: "bench", QueueID: int32(i % 8), BornTimestamp: now, Body: body,
			Properties: message.EncodeProperties(map[string]string{
				message.PropertyUniqKey:        fmt.Sprintf("B%09d", i),
				message.PropertyTimerDeliverMs: strconv.FormatInt(at(i), 10),
			})}
		if _, err := h.svc.Rules().Transform(m, now); err != nil {
			b.Fatal(err)
		}
		batch = append(batch, m)
		if len(batch) == cap(batch) || i == n-1 {
			if _, err := h.st.PutBatch(context.Background(), batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
}

func (h *harness) enqueued() int64 {
	var q int64
	h.svc.do(context.Background(), func() { q = h.svc.q })
	return q
}

// BenchmarkTimerEnqueue: how fast the wheel takes in timers (stored
// records read back, logged and linked), timers spread over an hour.
//
//	go test -run '^$' -bench TimerEnqueue -benchtime 200000x ./internal/timer
func BenchmarkTimerEnqueue(b *testing.B) {
	h, run := benchHarnessStopped(b)
	base := time.Now().Add(time.Hour).UnixMilli()
	putTimers(b, h, b.N, func(i int) int64 { return base + int64(i)*3_600_000/int64(b.N) })
	for h.st.DispatchedOffset() < h.st.CommitLogMaxOffset() {
		time.Sleep(time.Millisecond)
	}
	b.ResetTimer()
	start := time.Now()
	run()
	for h.enqueued() < int64(b.N) {
		time.Sleep(time.Millisecond)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "timers/s")
}

// BenchmarkTimerBurst: b.N timers due in the same 100 ms slot are stored
// in their topic; reports delivered timers per second from their time.
//
//	go test -run '^$' -bench TimerBurst -benchtime 200000x ./internal/timer
func BenchmarkTimerBurst(b *testing.B) {
	h := benchHarness(b)
	due := time.Now().Add(time.Second + time.Duration(b.N)*20*time.Microsecond).UnixMilli()
	putTimers(b, h, b.N, func(int) int64 { return due })
	if time.Now().UnixMilli() >= due {
		b.Fatal("storing the timers took past their time; raise the margin")
	}
	b.ResetTimer()
	delivered := func() int64 {
		var n int64
		for q := range int32(8) {
			n += h.st.MaxOffset("bench", q)
		}
		return n
	}
	for delivered() < int64(b.N) {
		time.Sleep(time.Millisecond)
	}
	el := time.Since(time.UnixMilli(due))
	b.ReportMetric(float64(b.N)/el.Seconds(), "delivered/s")
	b.ReportMetric(float64(el.Milliseconds()), "ms-to-last")
}
