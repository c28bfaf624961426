package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quiver-mq/quiver/internal/remoting"
)

// W6b's shape (WORKLOADS.md): topics of the RocketMQ default for
// auto-created topics, created 8 at a time as jsbench creates streams.
const (
	manyTopicsQueues   = 4
	manyTopicsParallel = 8
)

// manyTopics runs W6b: create topics (WorkloadOptions.Topics, 10,000) of 4
// queues with UPDATE_AND_CREATE_TOPIC, 8 requests in flight over one
// connection, then send count messages (1,000,000) round-robin over them
// with the W2p method (message i goes to topic i mod n, queue (i / n) mod
// 4), all within the bound (7 min) from the first creation. The producer
// sends straight to the broker that holds the topics; it does not wait for
// the name server to route 10,000 topics (jsbench publishes to its streams
// at once, too). Results: "W6b:create" (msgs = topics created, msg/s =
// topics per second) and "W6b" (the publish, with the broker's RSS after
// 2 s idle when the pid is known).
func manyTopics(ctx context.Context, o WorkloadOptions) ([]Result, error) {
	n := 10_000
	if o.Topics > 0 {
		n = o.Topics
	}
	count := 1_000_000
	if o.Count > 0 {
		count = o.Count
	}
	bound := 7 * time.Minute
	if o.Duration > 0 {
		bound = o.Duration
	}
	start := time.Now()
	deadline := start.Add(bound)
	bctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	cl := remoting.NewClient(remoting.ClientOptions{})
	defer cl.Close()
	addrs, err := masters(bctx, cl, o.Namesrv)
	if err != nil {
		return nil, err
	}
	if len(addrs) != 1 {
		return nil, fmt.Errorf("bench: W6b runs against one broker, the name server lists %d", len(addrs))
	}
	addr := addrs[0]
	prefix := FreshTopic("bench-w6b")
	topics := make([]string, n)
	for i := range topics {
		topics[i] = fmt.Sprintf("%s-%05d", prefix, i)
	}

	// Create.
	var (
		next, created atomic.Int64
		wg            sync.WaitGroup
		errMu         sync.Mutex
		firstErr      error
	)
	for range manyTopicsParallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(n) || bctx.Err() != nil {
					return
				}
				if err := createTopic(bctx, cl, addr, topics[i], manyTopicsQueues); err != nil {
					errMu.Lock()
					if firstErr == nil && bctx.Err() == nil {
						firstErr = fmt.Errorf("bench: create topic %s: %w", topics[i], err)
					}
					errMu.Unlock()
					return
				}
				created.Add(1)
			}
		}()
	}
	wg.Wait()
	createEl := time.Since(start)
	made := created.Load()
	cr := Result{Workload: "W6b:create", Topics: &made}
	cr.setRate(made, createEl, 0)
	out := []Result{cr}
	if firstErr != nil {
		return out, firstErr
	}
	if made < int64(n) {
		return out, fmt.Errorf("bench: W6b created %d of %d topics within %v", made, n, bound)
	}

	// Publish, round-robin over the topics.
	c := o.base("W6b", count, 0)
	c.Window, c.Duration = 256, time.Until(deadline)
	if c.Duration <= 0 {
		return out, fmt.Errorf("bench: W6b: the %v bound passed while creating topics", bound)
	}
	c.fill()
	tgt := &Target{Namesrv: o.Namesrv, Topic: prefix, Queues: []Queue{{Addr: addr}}}
	pl := plan{dest: func(i int64) (string, Queue) {
		return topics[i%int64(n)], Queue{Addr: addr, ID: int32((i / int64(n)) % manyTopicsQueues)}
	}}
	m := newMeter(c.Name, c.Size, c.Progress)
	m.begin()
	errs, err := produceRun(ctx, c, tgt, m, newSchedule(c, m.start), pl)
	h, sent, el := m.end()
	r := Result{Workload: "W6b", Topic: prefix + "-*", Errors: errs, Producers: 1, Window: c.Window, Topics: &made}
	r.setRate(sent, el, c.Size)
	r.setLatency(h)
	if err != nil {
		return append(out, r), err
	}
	if o.BrokerPID != 0 {
		time.Sleep(2 * time.Second)
		rss, err := ReadRSS(o.BrokerPID)
		if err != nil {
			return append(out, r), err
		}
		r.RSS = &rss
	}
	if sent < int64(count) {
		err = errors.Join(err, fmt.Errorf("bench: W6b sent %d of %d messages within %v", sent, count, bound))
	}
	return append(out, r), err
}
