package bench

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quiver-mq/quiver/internal/protocol"
	"github.com/quiver-mq/quiver/internal/remoting"
)

// consumeOpts steer consumeRun.
type consumeOpts struct {
	want     int64         // stop once this many were consumed; 0 = no bound
	hold     time.Duration // long-polling hold; 0 = stop a queue when it is drained
	onBody   func(rec *recorder, body []byte, now time.Time)
	started  chan struct{} // closed once every queue's first pull is sent
	deadline time.Time
	consumed *atomic.Int64
}

// consumeRun pulls every queue of tgt over one connection, from offset 0,
// committing offsets as cfg.CommitEvery says; it returns the committed
// offsets' sum. Each queue has a puller goroutine, which sends the next
// PULL as soon as the previous one is answered, and a goroutine that
// consumes (and acknowledges) the batches, one batch behind at most, as a
// RocketMQ push consumer pulls again before its listener has consumed
// the last batch. With 8 queues and batch 32, at most 8 × 3 × 32 = 768
// messages are pulled and not yet acknowledged.
func consumeRun(ctx context.Context, cfg Config, tgt *Target, m *meter, o consumeOpts) (int64, error) {
	cl := remoting.NewClient(remoting.ClientOptions{})
	defer cl.Close()
	conn, err := cl.Conn(ctx, tgt.Queues[0].Addr)
	if err != nil {
		return 0, err
	}
	var (
		wg       sync.WaitGroup
		errMu    sync.Mutex
		firstErr error
		ready    sync.WaitGroup
	)
	report := func(err error) {
		errMu.Lock()
		firstErr = errors.Join(firstErr, err)
		errMu.Unlock()
	}
	ctx, cancel := context.WithDeadline(ctx, o.deadline)
	defer cancel()
	more := func() bool { return ctx.Err() == nil && (o.want == 0 || o.consumed.Load() < o.want) }
	ready.Add(len(tgt.Queues))
	for _, q := range tgt.Queues {
		rec := m.recorder()
		c := conn
		if q.Addr != tgt.Queues[0].Addr {
			if c, err = cl.Conn(ctx, q.Addr); err != nil {
				ready.Done()
				report(err)
				continue
			}
		}
		batches := make(chan pullResult, 1)
		wg.Go(func() { // puller
			defer close(batches)
			var off int64
			empty := 0
			started := false
			defer func() {
				if !started {
					ready.Done()
				}
			}()
			for more() {
				pctx, pcancel := context.WithTimeout(ctx, o.hold+10*time.Second)
				if !started {
					ready.Done()
					started = true
				}
				res, err := pull(pctx, c, cfg.Group, tgt.Topic, q, off, cfg.Batch, o.hold)
				pcancel()
				if err != nil {
					if ctx.Err() == nil {
						report(err)
					}
					return
				}
				off = res.next
				if res.found {
					empty = 0
					select {
					case batches <- res:
					case <-ctx.Done():
						return
					}
					continue
				}
				switch {
				case o.hold == 0 && o.want == 0:
					// Drained, unless the dispatcher is a little behind
					// the acks: look a few more times first.
					if empty++; empty >= 5 {
						return
					}
					time.Sleep(10 * time.Millisecond)
				case o.hold == 0:
					time.Sleep(time.Millisecond) // behind the dispatcher
				}
			}
		})
		wg.Go(func() { // consumer
			var off, lastCommit int64
			ack := offsetRequest(protocol.UpdateConsumerOffset, cfg.Group, tgt.Topic, q, 0)
			for res := range batches {
				now := time.Now()
				if o.onBody != nil {
					for _, m := range res.msgs {
						o.onBody(rec, m.body, now)
					}
				} else {
					rec.count(len(res.msgs))
				}
				if cfg.CommitEvery == 1 {
					// Every message acknowledged on its own (one-way, as
					// JetStream's Ack is).
					for _, m := range res.msgs {
						ack.ExtFields["commitOffset"] = strconv.FormatInt(m.queueOffset+1, 10)
						if err := c.InvokeOneway(ctx, ack); err != nil {
							break
						}
					}
				}
				o.consumed.Add(int64(len(res.msgs)))
				off = res.next
				if cfg.CommitEvery != 1 && (cfg.CommitEvery == 0 || off-lastCommit >= int64(cfg.CommitEvery)) {
					if err := commit(ctx, c, cfg.Group, tgt.Topic, q, off, false); err == nil {
						lastCommit = off
					}
				}
			}
			// The final commit waits for the broker, so the check below
			// sees it; the broker's workers may still apply an earlier
			// one-way commit after it, so it is repeated until the broker
			// reads it back.
			if off > 0 {
				cctx, ccancel := context.WithTimeout(context.Background(), 10*time.Second)
				for {
					if err := commit(cctx, c, cfg.Group, tgt.Topic, q, off, true); err != nil {
						report(err)
						break
					}
					got, err := committed(cctx, c, cfg.Group, tgt.Topic, q)
					if err != nil {
						report(err)
						break
					}
					if got >= off {
						break
					}
					select {
					case <-cctx.Done():
					case <-time.After(10 * time.Millisecond):
					}
					if cctx.Err() != nil {
						report(fmt.Errorf("bench: the committed offset of queue %d stays at %d, want %d", q.ID, got, off))
						break
					}
				}
				ccancel()
			}
		})
	}
	if o.started != nil {
		go func() { ready.Wait(); close(o.started) }()
	}
	wg.Wait()
	var sum int64
	cctx, ccancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer ccancel()
	for _, q := range tgt.Queues {
		c, err := cl.Conn(cctx, q.Addr)
		if err != nil {
			return sum, errors.Join(firstErr, err)
		}
		off, err := committed(cctx, c, cfg.Group, tgt.Topic, q)
		if err != nil {
			return sum, errors.Join(firstErr, err)
		}
		sum += off
	}
	return sum, firstErr
}

// Consume drains tgt from its first message with one consumer (one
// connection), pulling cfg.Batch at a time and committing offsets as
// cfg.CommitEvery says, until cfg.Count messages (when set) or until every
// queue is drained, or cfg.Duration passes.
func Consume(ctx context.Context, cfg Config, tgt *Target) (Result, error) {
	cfg.fill()
	m := newMeter(cfg.Name, cfg.Size, cfg.Progress)
	var consumed atomic.Int64
	m.begin()
	sum, err := consumeRun(ctx, cfg, tgt, m, consumeOpts{
		want: int64(cfg.Count), deadline: m.start.Add(cfg.Duration), consumed: &consumed,
	})
	_, n, el := m.end()
	r := Result{Workload: cfg.Name, Topic: tgt.Topic, Batch: cfg.Batch, Committed: &sum}
	r.setRate(n, el, cfg.Size)
	return r, err
}

// e2eClock turns the stamps in a received body into publish-to-consume
// latency: from the due send time (first 8 bytes) into the recorder, from
// the actual send time (next 8) into actual. Messages due before warmEnd
// are counted only.
type e2eClock struct {
	warmEnd atomic.Int64
	mu      sync.Mutex
	actual  Histogram
}

func (e *e2eClock) onBody(rec *recorder, b []byte, now time.Time) {
	if len(b) < 16 {
		rec.count(1)
		return
	}
	due := int64(binary.LittleEndian.Uint64(b))
	sent := int64(binary.LittleEndian.Uint64(b[8:]))
	if due < e.warmEnd.Load() {
		rec.count(1)
		return
	}
	rec.record(time.Duration(now.UnixNano() - due))
	e.mu.Lock()
	e.actual.Record(now.UnixNano() - sent)
	e.mu.Unlock()
}

// finish sets r's latency from the due and the actual send times.
func (e *e2eClock) finish(r *Result, h *Histogram) {
	r.setLatency(h)
	a50, a99 := us(e.actual.Quantile(0.5)), us(e.actual.Quantile(0.99))
	r.SentP50Us, r.SentP99Us = &a50, &a99
}

// awaitConsumed waits up to 30 s for the consumer to have taken produced
// messages.
func awaitConsumed(consumed *atomic.Int64, produced int64) {
	wait := time.After(30 * time.Second)
	for consumed.Load() < produced {
		select {
		case <-wait:
			return
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// E2E starts a long-polling consumer, then producers (paced when cfg.Rate
// is set), and measures publish-to-consume latency from the due send time
// stamped in the first 8 body bytes (the actual send time is in the next 8).
// e2eDrive is E2E's producer half, for either transport: once the consumer
// has started (and its first requests had time to park), it paces
// cfg.Duration + cfg.Warmup of sends stamped with their due time through
// produce, which records them in pm, waits until the consumer has seen them
// all, and stops it. It returns how many were sent and how many went out late.
func e2eDrive(ctx context.Context, cfg Config, started <-chan struct{}, pm *meter, clock *e2eClock, consumed *atomic.Int64, stopConsumer func(), produce func(pcfg Config, sch *schedule)) (produced, late int64, err error) {
	select {
	case <-started:
	case <-ctx.Done():
		return 0, 0, ctx.Err()
	}
	time.Sleep(20 * time.Millisecond) // let the first pulls or receives reach the broker and park
	pcfg := cfg
	pcfg.Duration = cfg.Duration + cfg.Warmup
	pm.begin()
	sch := newSchedule(pcfg, pm.start)
	sch.stamp = true
	clock.warmEnd.Store(pm.start.Add(cfg.Warmup).UnixNano())
	produce(pcfg, sch)
	_, produced, _ = pm.end()
	awaitConsumed(consumed, produced)
	stopConsumer()
	return produced, sch.late.Load(), nil
}

// Messages due before cfg.Warmup has passed count in msgs, not in the
// percentiles.
func E2E(ctx context.Context, cfg Config, tgt *Target) (Result, error) {
	cfg.fill()
	if cfg.Size < 16 {
		cfg.Size = 16
	}
	m := newMeter(cfg.Name, cfg.Size, cfg.Progress)
	var (
		consumed atomic.Int64
		clock    e2eClock
	)
	cctx, stopConsumer := context.WithCancel(ctx)
	defer stopConsumer()
	started := make(chan struct{})
	type out struct {
		sum int64
		err error
	}
	done := make(chan out, 1)
	m.begin()
	go func() {
		sum, err := consumeRun(cctx, cfg, tgt, m, consumeOpts{
			hold: time.Second, onBody: clock.onBody, started: started, consumed: &consumed,
			deadline: time.Now().Add(cfg.Duration + cfg.Warmup + 60*time.Second),
		})
		done <- out{sum, err}
	}()
	var (
		errs int64
		perr error
	)
	pm := newMeter(cfg.Name+"-produce", cfg.Size, nil)
	produced, late, err := e2eDrive(ctx, cfg, started, pm, &clock, &consumed, stopConsumer, func(pcfg Config, sch *schedule) {
		errs, perr = produceRun(ctx, pcfg, tgt, pm, sch, plan{})
	})
	if err != nil {
		return Result{}, err
	}
	o := <-done
	h, n, el := m.end()
	r := Result{
		Workload: cfg.Name, Topic: tgt.Topic, Errors: errs, Producers: cfg.Producers, Window: cfg.Window,
		Batch: cfg.Batch, RateTarget: cfg.Rate, LateSends: &late, Committed: &o.sum, Produced: &produced,
	}
	r.setRate(n, el, cfg.Size)
	clock.finish(&r, h)
	return r, errors.Join(perr, o.err)
}
