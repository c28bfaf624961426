package bench

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"
)

// TIMER_DELIVER_MS: the absolute time (ms since the epoch) a timer message
// is due (RocketMQ 5.x MessageConst.PROPERTY_TIMER_DELIVER_MS).
const propertyTimerDeliverMs = "TIMER_DELIVER_MS"

// W8's shape (WORKLOADS.md).
const (
	timerSpread = 60 * time.Second
	// timerGrace is how long after the last due time the consumer waits
	// for stragglers.
	timerGrace = 60 * time.Second
	// earlyBy: a message received this much before its due time counts as
	// early (one host clock; the property has ms resolution).
	earlyBy = time.Millisecond
)

// timerOffset spreads message i's delay uniformly over [0, spread):
// splitmix64 of i, so every run schedules the same delays.
func timerOffset(i int64, spread time.Duration) time.Duration {
	z := uint64(i) + 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	z ^= z >> 31
	ms := spread.Milliseconds()
	if ms <= 0 {
		return 0
	}
	return time.Duration(z%uint64(ms)) * time.Millisecond
}

// timerProps is the properties of a message due at deliverMs.
func timerProps(deliverMs int64) string {
	return propertyTimerDeliverMs + "\x01" + strconv.FormatInt(deliverMs, 10) + "\x02"
}

// stampTimer writes a timer message's due time (ns) and number into the
// first 16 bytes of body; readTimer reads them back.
func stampTimer(body []byte, due time.Time, i int64) {
	binary.LittleEndian.PutUint64(body, uint64(due.UnixNano()))
	binary.LittleEndian.PutUint64(body[8:], uint64(i))
}

func readTimer(body []byte) (due int64, i int64, ok bool) {
	if len(body) < 16 {
		return 0, 0, false
	}
	return int64(binary.LittleEndian.Uint64(body)), int64(binary.LittleEndian.Uint64(body[8:])), true
}

// seen is a set of message numbers below a bound, safe for concurrent use.
type seen struct {
	n     int64
	words []atomic.Uint64
}

func newSeen(n int64) *seen { return &seen{n: n, words: make([]atomic.Uint64, (n+63)/64)} }

// add marks i and reports whether it was new; false also for i out of range.
func (s *seen) add(i int64) bool {
	if i < 0 || i >= s.n {
		return false
	}
	bit := uint64(1) << (uint(i) % 64)
	return s.words[i/64].Or(bit)&bit == 0
}

// timers runs W8: one consumer (long-polling PULL on every queue of a fresh
// topic) starts first; then one producer sends count (1,000,000) messages
// with the W2p method, each with TIMER_DELIVER_MS = its send time plus a
// delay spread uniformly over [0, 60 s) (WorkloadOptions.Spread), the due
// time and the message's number stamped in its first 16 bytes. Lateness is
// receive time − due time. The run ends once every acked message arrived,
// or 60 s after the last due time. Results: "W8:enqueue" (the send rate
// and send→ack latency) and "W8" (lateness, with early, missing and
// duplicate arrivals, and the broker's RSS at the end when the pid is
// known). A broker that ignores timer properties delivers at once: most
// messages arrive early, and the run fails saying so.
func timers(ctx context.Context, o WorkloadOptions) ([]Result, error) {
	count := 1_000_000
	if o.Count > 0 {
		count = o.Count
	}
	spread := timerSpread
	if o.Spread > 0 {
		spread = o.Spread
	}
	pc := o.base("W8:enqueue", count, 120*time.Second)
	pc.Window = 256
	if pc.Size < 16 {
		pc.Size = 16
	}
	tgt, err := fresh(ctx, &pc)
	if err != nil {
		return nil, err
	}
	cc := pc
	cc.Name = "W8"
	cc.fill()
	pc.fill()

	var (
		consumed, early, dups atomic.Int64
		lastDue               atomic.Int64
		got                   = newSeen(int64(count))
	)
	onBody := func(rec *recorder, b []byte, now time.Time) {
		due, i, ok := readTimer(b)
		if !ok {
			rec.count(1)
			return
		}
		if !got.add(i) {
			dups.Add(1)
		}
		late := now.UnixNano() - due
		if late < -int64(earlyBy) {
			early.Add(1)
		}
		rec.record(time.Duration(max(late, 0)))
	}
	m := newMeter(cc.Name, cc.Size, cc.Progress)
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
		sum, err := consumeRun(cctx, cc, tgt, m, consumeOpts{
			hold: time.Second, onBody: onBody, started: started, consumed: &consumed,
			deadline: time.Now().Add(pc.Duration + spread + timerGrace + 10*time.Second),
		})
		done <- out{sum, err}
	}()
	select {
	case <-started:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	time.Sleep(20 * time.Millisecond) // let the first pulls reach the broker and park

	pl := plan{prepare: func(i int64, body []byte) string {
		due := time.Now().Add(timerOffset(i, spread)).Truncate(time.Millisecond)
		stampTimer(body, due, i)
		for {
			l := lastDue.Load()
			if due.UnixNano() <= l || lastDue.CompareAndSwap(l, due.UnixNano()) {
				break
			}
		}
		return timerProps(due.UnixMilli())
	}}
	pm := newMeter(pc.Name, pc.Size, pc.Progress)
	pm.begin()
	errs, perr := produceRun(ctx, pc, tgt, pm, newSchedule(pc, pm.start), pl)
	ph, produced, pel := pm.end()
	enq := Result{Workload: pc.Name, Topic: tgt.Topic, Errors: errs, Producers: 1, Window: pc.Window}
	enq.setRate(produced, pel, pc.Size)
	enq.setLatency(ph)

	wait := time.NewTimer(time.Until(time.Unix(0, lastDue.Load()).Add(timerGrace)))
	defer wait.Stop()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
waiting:
	for consumed.Load() < produced {
		select {
		case <-wait.C:
			break waiting
		case <-ctx.Done():
			break waiting
		case <-tick.C:
		}
	}
	stopConsumer()
	co := <-done
	h, n, el := m.end()
	r := Result{Workload: "W8", Topic: tgt.Topic, Batch: cc.Batch, Committed: &co.sum, Produced: &produced}
	r.setRate(n, el, cc.Size)
	r.setLatency(h)
	e, d := early.Load(), dups.Load()
	missing := max(produced-(n-d), 0)
	r.Early, r.Missing, r.Duplicates = &e, &missing, &d
	err = errors.Join(perr, co.err)
	if o.BrokerPID != 0 {
		rss, rerr := ReadRSS(o.BrokerPID)
		if rerr != nil {
			err = errors.Join(err, rerr)
		} else {
			r.RSS = &rss
		}
	}
	switch {
	case produced > 0 && e*10 > produced:
		err = errors.Join(err, fmt.Errorf("bench: W8: %d of %d timer messages arrived before their time: does the broker honour %s?", e, produced, propertyTimerDeliverMs))
	case missing > 0:
		err = errors.Join(err, fmt.Errorf("bench: W8: %d of %d timer messages did not arrive within %v of the last due time", missing, produced, timerGrace))
	case d > 0:
		err = errors.Join(err, fmt.Errorf("bench: W8: %d timer messages arrived twice", d))
	}
	return []Result{enq, r}, err
}
