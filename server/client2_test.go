package server

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	rocketmq "github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/admin"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"

	"github.com/quiver-mq/quiver/internal/broker"
)

func TestAsyncOnewayAndBatchSend(t *testing.T) {
	s := startServer(t, Options{})
	p := newProducer(t, s, "PG2")
	ctx := context.Background()
	// A first sync send creates the topic.
	if _, err := p.SendSync(ctx, primitive.NewMessage("TopicModes", []byte("sync-0"))); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var failed atomic.Int32
	for i := range 50 {
		wg.Add(1)
		err := p.SendAsync(ctx, func(_ context.Context, r *primitive.SendResult, err error) {
			defer wg.Done()
			if err != nil || r.Status != primitive.SendOK {
				failed.Add(1)
			}
		}, primitive.NewMessage("TopicModes", []byte(fmt.Sprintf("async-%d", i))))
		if err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	if failed.Load() > 0 {
		t.Fatalf("%d async sends failed", failed.Load())
	}
	for i := range 20 {
		if err := p.SendOneWay(ctx, primitive.NewMessage("TopicModes", []byte(fmt.Sprintf("oneway-%d", i)))); err != nil {
			t.Fatal(err)
		}
	}
	var batch []*primitive.Message
	for i := range 30 {
		batch = append(batch, primitive.NewMessage("TopicModes", []byte(fmt.Sprintf("batch-%d", i))))
	}
	r, err := p.SendSync(ctx, batch...)
	if err != nil || r.Status != primitive.SendOK {
		t.Fatalf("batch send: %v %+v", err, r)
	}
	c := newCollector()
	newPushConsumer(t, s, "CG2", uniqueInstance(t, "c"), consumer.Clustering, "TopicModes", consumer.MessageSelector{}, c)
	c.waitDistinct(t, 1+50+20+30, 30*time.Second)
	for _, want := range []string{"sync-0", "async-49", "oneway-19", "batch-0", "batch-29"} {
		if c.msgs[want] == 0 {
			t.Fatalf("%s not received", want)
		}
	}
}

func TestClusteringSharesAndBroadcastingCopies(t *testing.T) {
	s := startServer(t, Options{})
	p := newProducer(t, s, "PG3")
	ctx := context.Background()
	if _, err := p.SendSync(ctx, primitive.NewMessage("TopicShare", []byte("warmup"))); err != nil {
		t.Fatal(err)
	}
	c1, c2 := newCollector(), newCollector()
	newPushConsumer(t, s, "CGShare", uniqueInstance(t, "c1"), consumer.Clustering, "TopicShare", consumer.MessageSelector{}, c1)
	newPushConsumer(t, s, "CGShare", uniqueInstance(t, "c2"), consumer.Clustering, "TopicShare", consumer.MessageSelector{}, c2)
	b1, b2 := newCollector(), newCollector()
	newPushConsumer(t, s, "CGBroadcast", uniqueInstance(t, "b1"), consumer.BroadCasting, "TopicShare", consumer.MessageSelector{}, b1)
	newPushConsumer(t, s, "CGBroadcast", uniqueInstance(t, "b2"), consumer.BroadCasting, "TopicShare", consumer.MessageSelector{}, b2)
	// Let both clustering members see each other and split the queues.
	waitFor(t, 20*time.Second, "both clustering consumers in the group", func() bool {
		return len(s.Broker().ConsumerIDs("CGShare")) == 2
	})
	// The Go client rebalances on its own schedule: the split is settled
	// once each member has received something.
	for i := 0; countPrefix(c1, "warm-") == 0 || countPrefix(c2, "warm-") == 0; i++ {
		if i > 600 {
			t.Fatal("the clustering consumers never split the queues")
		}
		if _, err := p.SendSync(ctx, primitive.NewMessage("TopicShare", []byte(fmt.Sprintf("warm-%d", i)))); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
	const n = 200
	for i := range n {
		if _, err := p.SendSync(ctx, primitive.NewMessage("TopicShare", []byte(fmt.Sprintf("m-%d", i)))); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 30*time.Second, "all messages consumed once by the clustering group", func() bool {
		return countPrefix(c1, "m-")+countPrefix(c2, "m-") >= n
	})
	both := 0
	for i := range n {
		k := fmt.Sprintf("m-%d", i)
		got := c1.count(k) + c2.count(k)
		if got == 0 {
			t.Fatalf("%s lost", k)
		}
		if got > 1 {
			both++
		}
	}
	if both > 0 {
		t.Fatalf("%d messages delivered twice in steady state", both)
	}
	if countPrefix(c1, "m-") == 0 || countPrefix(c2, "m-") == 0 {
		t.Fatalf("queues not shared: %d and %d", countPrefix(c1, "m-"), countPrefix(c2, "m-"))
	}
	waitFor(t, 30*time.Second, "every message at both broadcasting consumers", func() bool {
		return countPrefix(b1, "m-") == n && countPrefix(b2, "m-") == n
	})
}

func (c *collector) count(body string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.msgs[body]
}

func countPrefix(c *collector, prefix string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for k := range c.msgs {
		if len(k) >= len(prefix) && k[:len(prefix)] == prefix {
			n++
		}
	}
	return n
}

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestTagFiltering(t *testing.T) {
	s := startServer(t, Options{})
	p := newProducer(t, s, "PG4")
	ctx := context.Background()
	for i := range 60 {
		m := primitive.NewMessage("TopicTags", []byte(fmt.Sprintf("t-%d", i)))
		m.WithTag([]string{"TagA", "TagB", "TagC"}[i%3])
		if _, err := p.SendSync(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	c := newCollector()
	newPushConsumer(t, s, "CGTags", uniqueInstance(t, "c"), consumer.Clustering, "TopicTags",
		consumer.MessageSelector{Type: consumer.TAG, Expression: "TagA || TagC"}, c)
	c.waitDistinct(t, 40, 30*time.Second)
	time.Sleep(500 * time.Millisecond)
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range c.all {
		if tag := m.GetTags(); tag != "TagA" && tag != "TagC" {
			t.Fatalf("received a %s message", tag)
		}
	}
	if len(c.msgs) != 40 {
		t.Fatalf("received %d distinct, want 40", len(c.msgs))
	}
}

func TestPullConsumerWithOffsets(t *testing.T) {
	// Short polling, so the pull at the end of the queue answers quickly.
	s := startServer(t, Options{Broker: func(o *broker.Options) {
		o.LongPolling, o.ShortPollingTime = false, 200*time.Millisecond
	}})
	p := newProducer(t, s, "PG5")
	ctx := context.Background()
	const n = 40
	var mq primitive.MessageQueue
	perQueue := map[int]int64{}
	for i := range n {
		r, err := p.SendSync(ctx, primitive.NewMessage("TopicPull", []byte(fmt.Sprintf("p-%d", i))))
		if err != nil {
			t.Fatal(err)
		}
		mq = *r.MessageQueue
		perQueue[mq.QueueId]++
	}
	// Sends are acknowledged before the dispatcher makes them readable.
	waitFor(t, 5*time.Second, "all messages readable", func() bool {
		return s.Broker().Store().MaxOffset("TopicPull", int32(mq.QueueId)) == perQueue[mq.QueueId]
	})
	pc, err := rocketmq.NewPullConsumer(
		consumer.WithNsResolver(primitive.NewPassthroughResolver([]string{s.NamesrvAddr()})),
		consumer.WithGroupName("CGPull"),
		consumer.WithInstance(uniqueInstance(t, "pull")),
	)
	if err != nil {
		t.Fatal(err)
	}
	if err := pc.Subscribe("TopicPull", consumer.MessageSelector{}); err != nil {
		t.Fatal(err)
	}
	if err := pc.Start(); err != nil {
		t.Fatal(err)
	}
	defer pc.Shutdown()
	q := mq
	res, err := pc.PullFrom(ctx, &q, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != primitive.PullFound || len(res.GetMessageExts()) == 0 {
		t.Fatalf("pull from 0: %v %d messages", res.Status, len(res.GetMessageExts()))
	}
	first := res.GetMessageExts()[0]
	if first.QueueOffset != 0 {
		t.Fatalf("first pulled offset %d", first.QueueOffset)
	}
	if res.NextBeginOffset != int64(len(res.GetMessageExts())) {
		t.Fatalf("next begin offset %d after %d messages", res.NextBeginOffset, len(res.GetMessageExts()))
	}
	// Past the end: not found, next offset stays.
	max := res.MaxOffset
	res, err = pc.PullFrom(ctx, &q, max, 10)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != primitive.PullNoNewMsg {
		t.Fatalf("pull at max offset: %v", res.Status)
	}
	// Offsets committed through the pull consumer are stored by the broker.
	if err := pc.UpdateOffset(&q, 7); err != nil {
		t.Fatal(err)
	}
	if err := pc.PersistOffset(ctx, "TopicPull"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "committed offset", func() bool {
		off, ok := s.Broker().CommittedOffset("CGPull", "TopicPull", int32(q.QueueId))
		return ok && off == 7
	})
}

func TestAdminTopicListAndCreate(t *testing.T) {
	s := startServer(t, Options{DisableAutoCreateTopic: true})
	p := newProducer(t, s, "PG6")
	ctx := context.Background()
	if _, err := p.SendSync(ctx, primitive.NewMessage("NoSuchTopic", []byte("x"))); err == nil {
		t.Fatal("send to an unknown topic succeeded with auto-creation off")
	}
	adm, err := admin.NewAdmin(admin.WithResolver(primitive.NewPassthroughResolver([]string{s.NamesrvAddr()})))
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	if err := adm.CreateTopic(ctx, admin.WithTopicCreate("AdminTopic"), admin.WithBrokerAddrCreate(s.BrokerAddr())); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "topic in the name server's list", func() bool {
		list, err := adm.FetchAllTopicList(ctx)
		if err != nil {
			return false
		}
		for _, tp := range list.TopicList {
			if tp == "AdminTopic" {
				return true
			}
		}
		return false
	})
	waitFor(t, 10*time.Second, "send to the created topic", func() bool {
		_, err := p.SendSync(ctx, primitive.NewMessage("AdminTopic", []byte("x")))
		return err == nil
	})
}
