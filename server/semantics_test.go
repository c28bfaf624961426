package server

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	rocketmq "github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"

	"github.com/quiver-mq/quiver/internal/broker"
	"github.com/quiver-mq/quiver/internal/protocol"
	"github.com/quiver-mq/quiver/internal/remoting"
)

// TestOrderlyPerShardingKey: messages of each of 10 keys, consumed by two
// orderly consumers of one group, arrive in send order per key, also while
// the second consumer joins.
func TestOrderlyPerShardingKey(t *testing.T) {
	// The 4.x Go client never unlocks a queue taken away by a rebalance;
	// the new owner waits for the lock to lapse, so keep that short.
	s := startServer(t, Options{Broker: func(o *broker.Options) { o.LockMaxLive = 3 * time.Second }})
	p, err := rocketmq.NewProducer(
		producer.WithNsResolver(primitive.NewPassthroughResolver([]string{s.NamesrvAddr()})),
		producer.WithGroupName("PGOrder"),
		producer.WithInstanceName(uniqueInstance(t, "p")),
		producer.WithQueueSelector(producer.NewHashQueueSelector()),
	)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown()
	ctx := context.Background()
	send := func(from, to int) {
		for i := from; i < to; i++ {
			key := fmt.Sprintf("key-%d", i%10)
			m := primitive.NewMessage("TopicOrder", []byte(fmt.Sprintf("%s|%d", key, i/10)))
			m.WithShardingKey(key)
			if _, err := p.SendSync(ctx, m); err != nil {
				t.Fatal(err)
			}
		}
	}
	send(0, 10) // creates the topic
	var mu sync.Mutex
	seen := map[string][]int{}
	handler := func(_ context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
		mu.Lock()
		defer mu.Unlock()
		for _, m := range msgs {
			var key string
			var seq int
			fmt.Sscanf(string(m.Body), "key-%s", &key)
			parts := string(m.Body)
			for i := range parts {
				if parts[i] == '|' {
					key = parts[:i]
					seq, _ = strconv.Atoi(parts[i+1:])
				}
			}
			seen[key] = append(seen[key], seq)
		}
		return consumer.ConsumeSuccess, nil
	}
	newOrderly := func(name string) {
		c, err := rocketmq.NewPushConsumer(
			consumer.WithNsResolver(primitive.NewPassthroughResolver([]string{s.NamesrvAddr()})),
			consumer.WithGroupName("CGOrder"),
			consumer.WithInstance(uniqueInstance(t, name)),
			consumer.WithConsumerOrder(true),
			consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset),
		)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Subscribe("TopicOrder", consumer.MessageSelector{}, handler); err != nil {
			t.Fatal(err)
		}
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Shutdown() })
	}
	newOrderly("c1")
	send(10, 150)
	newOrderly("c2") // joins while messages flow
	send(150, 300)
	waitFor(t, 90*time.Second, "all 300 messages", func() bool {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, v := range seen {
			n += len(v)
		}
		return n >= 300
	})
	mu.Lock()
	defer mu.Unlock()
	for key, seqs := range seen {
		// Redelivery after a rebalance may repeat a suffix, never reorder:
		// each sequence number first appears after all smaller ones.
		next := 0
		for _, s := range seqs {
			if s > next {
				t.Fatalf("%s: %d arrived before %d: %v", key, s, next, seqs)
			}
			if s == next {
				next++
			}
		}
		if next != 30 {
			t.Fatalf("%s: got up to %d of 30: %v", key, next, seqs)
		}
	}
}

// TestRequestReply: Request reaches a consumer whose reply comes back to
// the waiting producer.
func TestRequestReply(t *testing.T) {
	s := startServer(t, Options{})
	p := newProducer(t, s, "PGReq")
	ctx := context.Background()
	if _, err := p.SendSync(ctx, primitive.NewMessage("TopicReq", []byte("create"))); err != nil {
		t.Fatal(err)
	}
	responder := newProducer(t, s, "PGResp")
	c, err := rocketmq.NewPushConsumer(
		consumer.WithNsResolver(primitive.NewPassthroughResolver([]string{s.NamesrvAddr()})),
		consumer.WithGroupName("CGReq"),
		consumer.WithInstance(uniqueInstance(t, "c")),
	)
	if err != nil {
		t.Fatal(err)
	}
	replyErrs := make(chan error, 16)
	c.Subscribe("TopicReq", consumer.MessageSelector{}, func(ctx context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
		for _, m := range msgs {
			if m.GetProperty("CORRELATION_ID") == "" {
				continue
			}
			reply, err := consumer.CreateReplyMessage(m, nil)
			if err != nil {
				replyErrs <- fmt.Errorf("create reply: %w", err)
				continue
			}
			// v2.1.2's CreateReplyMessage parses its body argument as
			// properties and leaves the body empty; set it here.
			reply.Body = append([]byte("re: "), m.Body...)
			if _, err := responder.SendSync(ctx, reply); err != nil {
				select {
				case replyErrs <- fmt.Errorf("send reply: %w", err):
				default:
				}
			}
		}
		return consumer.ConsumeSuccess, nil
	})
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	defer c.Shutdown()
	waitFor(t, 10*time.Second, "consumer registered", func() bool { return len(s.Broker().ConsumerIDs("CGReq")) == 1 })
	// The reply is pushed over the requester's connection, which the broker
	// learns from the producer's first heartbeat (1 s after start).
	time.Sleep(1500 * time.Millisecond)
	reply, err := p.Request(ctx, 10*time.Second, primitive.NewMessage("TopicReq", []byte("ping")))
	if err != nil {
		select {
		case rerr := <-replyErrs:
			t.Fatalf("%v (responder: %v)", err, rerr)
		default:
			t.Fatal(err)
		}
	}
	if string(reply.Body) != "re: ping" {
		t.Fatalf("reply %q", reply.Body)
	}
}

// TestQueryByKeyOverRemoting: QUERY_MESSAGE finds a message by its key.
func TestQueryByKeyOverRemoting(t *testing.T) {
	s := startServer(t, Options{})
	p := newProducer(t, s, "PGQuery")
	ctx := context.Background()
	for i := range 20 {
		m := primitive.NewMessage("TopicQuery", []byte(fmt.Sprintf("q-%d", i)))
		m.WithKeys([]string{fmt.Sprintf("order-%d", i)})
		if _, err := p.SendSync(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	cl := remoting.NewClient(remoting.ClientOptions{})
	defer cl.Close()
	var r *protocol.Command
	waitFor(t, 5*time.Second, "indexed", func() bool {
		var err error
		r, err = cl.Invoke(ctx, s.BrokerAddr(), protocol.NewRequest(protocol.QueryMessage, map[string]string{
			"topic": "TopicQuery", "key": "order-7", "maxNum": "32", "beginTimestamp": "0",
			"endTimestamp": strconv.FormatInt(time.Now().Add(time.Minute).UnixMilli(), 10),
		}))
		return err == nil && r.Code == protocol.Success
	})
	msgs := primitive.DecodeMessage(r.Body)
	if len(msgs) != 1 || string(msgs[0].Body) != "q-7" {
		t.Fatalf("query by key: %d messages", len(msgs))
	}
}

// TestResetOffsetRewindsAGroup: an admin reset to timestamp 0 makes a live
// consumer group read the topic again from the start; GET_CONSUME_STATS
// shows the lag before.
func TestResetOffsetRewindsAGroup(t *testing.T) {
	s := startServer(t, Options{})
	p := newProducer(t, s, "PGReset")
	ctx := context.Background()
	for i := range 20 {
		if _, err := p.SendSync(ctx, primitive.NewMessage("TopicReset", []byte(fmt.Sprintf("x-%d", i)))); err != nil {
			t.Fatal(err)
		}
	}
	c := newCollector()
	newPushConsumer(t, s, "CGReset", uniqueInstance(t, "c"), consumer.Clustering, "TopicReset", consumer.MessageSelector{}, c)
	c.waitDistinct(t, 20, 30*time.Second)
	cl := remoting.NewClient(remoting.ClientOptions{})
	defer cl.Close()
	// Offsets reach the broker within the client's 5 s persist interval.
	waitFor(t, 15*time.Second, "committed offsets", func() bool {
		r, err := cl.Invoke(ctx, s.BrokerAddr(), protocol.NewRequest(protocol.GetConsumeStats, map[string]string{"consumerGroup": "CGReset", "topic": "TopicReset"}))
		return err == nil && r.Code == protocol.Success && r.Ext("diffTotal") == "0"
	})
	before := func() int {
		c.mu.Lock()
		defer c.mu.Unlock()
		return len(c.all)
	}()
	r, err := cl.Invoke(ctx, s.BrokerAddr(), protocol.NewRequest(protocol.InvokeBrokerToResetOffset, map[string]string{
		"topic": "TopicReset", "group": "CGReset", "timestamp": "0", "isForce": "true",
	}))
	if err != nil || r.Code != protocol.Success {
		t.Fatalf("reset offset: %v %+v", err, r)
	}
	waitFor(t, 60*time.Second, "the group to read the topic again", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return len(c.all) >= before+20
	})
}

// fastLevels makes retry and delay tests quick: level n waits n×200 ms,
// except level 2, which keeps RocketMQ's 5 s for TestDelayLevel2.
func fastLevels() []time.Duration {
	levels := make([]time.Duration, 18)
	for i := range levels {
		levels[i] = time.Duration(i+1) * 200 * time.Millisecond
	}
	levels[1] = 5 * time.Second
	return levels
}

// TestDelayLevel2ArrivesAfterFiveSeconds: a message sent with delay level 2
// is consumed 5 s after it was sent, never before.
func TestDelayLevel2ArrivesAfterFiveSeconds(t *testing.T) {
	s := startServer(t, Options{})
	p := newProducer(t, s, "PGDelay")
	ctx := context.Background()
	if _, err := p.SendSync(ctx, primitive.NewMessage("TopicDelay", []byte("create"))); err != nil {
		t.Fatal(err)
	}
	c := newCollector()
	newPushConsumer(t, s, "CGDelay", uniqueInstance(t, "c"), consumer.Clustering, "TopicDelay", consumer.MessageSelector{}, c)
	c.waitDistinct(t, 1, 30*time.Second)
	m := primitive.NewMessage("TopicDelay", []byte("delayed"))
	m.WithDelayTimeLevel(2)
	sent := time.Now()
	if _, err := p.SendSync(ctx, m); err != nil {
		t.Fatal(err)
	}
	c.waitDistinct(t, 2, 30*time.Second)
	if el := time.Since(sent); el < 5*time.Second {
		t.Fatalf("delay level 2 arrived after %v, before 5 s", el)
	} else if el > 7*time.Second {
		t.Fatalf("delay level 2 arrived after %v", el)
	}
}

// TestRetryLaterThenSuccess: ConsumeRetryLater sends the message back; it
// comes again with RECONSUME_TIME raised, and success ends it.
func TestRetryLaterThenSuccess(t *testing.T) {
	s := startServer(t, Options{Broker: func(o *broker.Options) { o.DelayLevels = fastLevels() }})
	p := newProducer(t, s, "PGRetry")
	ctx := context.Background()
	if _, err := p.SendSync(ctx, primitive.NewMessage("TopicRetry", []byte("fail-once"))); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var attempts []int32
	c, err := rocketmq.NewPushConsumer(
		consumer.WithNsResolver(primitive.NewPassthroughResolver([]string{s.NamesrvAddr()})),
		consumer.WithGroupName("CGRetry"),
		consumer.WithInstance(uniqueInstance(t, "c")),
		consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset),
	)
	if err != nil {
		t.Fatal(err)
	}
	c.Subscribe("TopicRetry", consumer.MessageSelector{}, func(_ context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
		mu.Lock()
		defer mu.Unlock()
		for _, m := range msgs {
			attempts = append(attempts, m.ReconsumeTimes)
		}
		if len(attempts) == 1 {
			return consumer.ConsumeRetryLater, nil
		}
		return consumer.ConsumeSuccess, nil
	})
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	defer c.Shutdown()
	waitFor(t, 60*time.Second, "the retried delivery", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(attempts) >= 2
	})
	mu.Lock()
	defer mu.Unlock()
	if attempts[0] != 0 || attempts[1] < 1 {
		t.Fatalf("reconsume times %v, want 0 then ≥ 1", attempts)
	}
}

// TestAlwaysFailingMessageLandsInDLQ: after maxReconsumeTimes retries the
// message goes to %DLQ%<group> with its original topic kept.
func TestAlwaysFailingMessageLandsInDLQ(t *testing.T) {
	s := startServer(t, Options{Broker: func(o *broker.Options) { o.DelayLevels = fastLevels() }})
	p := newProducer(t, s, "PGDLQ")
	ctx := context.Background()
	r, err := p.SendSync(ctx, primitive.NewMessage("TopicDLQ", []byte("poison")))
	if err != nil {
		t.Fatal(err)
	}
	var tries atomic.Int32
	c, err := rocketmq.NewPushConsumer(
		consumer.WithNsResolver(primitive.NewPassthroughResolver([]string{s.NamesrvAddr()})),
		consumer.WithGroupName("CGDLQ"),
		consumer.WithInstance(uniqueInstance(t, "c")),
		consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset),
		consumer.WithMaxReconsumeTimes(2),
	)
	if err != nil {
		t.Fatal(err)
	}
	c.Subscribe("TopicDLQ", consumer.MessageSelector{}, func(_ context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
		tries.Add(int32(len(msgs)))
		return consumer.ConsumeRetryLater, nil
	})
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	defer c.Shutdown()
	st := s.Broker().Store()
	waitFor(t, 60*time.Second, "the message in the DLQ", func() bool { return st.MaxOffset("%DLQ%CGDLQ", 0) == 1 })
	res, err := st.GetMessages("%DLQ%CGDLQ", 0, 0, 1, 0, nil)
	if err != nil || len(res.Records) != 1 {
		t.Fatalf("read DLQ: %v", err)
	}
	m := primitive.DecodeMessage(res.Records[0])[0]
	if string(m.Body) != "poison" || m.GetProperty("RETRY_TOPIC") != "TopicDLQ" || m.GetProperty("DLQ_ORIGIN_TOPIC") != "TopicDLQ" {
		t.Fatalf("DLQ message: body %q properties %v", m.Body, m.GetProperties())
	}
	if got := m.GetProperty("UNIQ_KEY"); got != r.MsgID {
		t.Fatalf("DLQ message id %s, sent %s", got, r.MsgID)
	}
	if n := tries.Load(); n != 3 {
		t.Fatalf("consumed %d times before the DLQ, want 3 (1 + maxReconsumeTimes 2)", n)
	}
}

// TestSQL92FilterSelectsByProperty: a push consumer subscribed with an SQL92
// expression receives exactly the matching messages; a bad expression is
// refused with SUBSCRIPTION_PARSE_FAILED.
func TestSQL92FilterSelectsByProperty(t *testing.T) {
	s := startServer(t, Options{})
	p := newProducer(t, s, "PGSQL")
	ctx := context.Background()
	for i := range 30 {
		m := primitive.NewMessage("TopicSQL", []byte(fmt.Sprintf("s-%d", i)))
		m.WithProperty("a", strconv.Itoa(i))
		m.WithProperty("color", []string{"red", "blue", "green"}[i%3])
		m.WithTag([]string{"TagA", "TagB"}[i%2])
		if _, err := p.SendSync(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	c := newCollector()
	newPushConsumer(t, s, "CGSQL", uniqueInstance(t, "c"), consumer.Clustering, "TopicSQL",
		consumer.MessageSelector{Type: consumer.SQL92, Expression: "a BETWEEN 10 AND 25 AND color IN ('red', 'green') AND TAGS = 'TagA'"}, c)
	// Matching: 10 ≤ i ≤ 25, color red or green (i%3 != 1), TagA (i even).
	want := []int{12, 14, 18, 20, 24}
	c.waitDistinct(t, len(want), 30*time.Second)
	time.Sleep(time.Second)
	c.mu.Lock()
	if len(c.msgs) != len(want) {
		t.Fatalf("received %d messages %v, want %v", len(c.msgs), c.msgs, want)
	}
	for _, i := range want {
		if c.msgs[fmt.Sprintf("s-%d", i)] == 0 {
			t.Fatalf("s-%d not received", i)
		}
	}
	c.mu.Unlock()

	cl := remoting.NewClient(remoting.ClientOptions{})
	defer cl.Close()
	r, err := cl.Invoke(ctx, s.BrokerAddr(), protocol.NewRequest(protocol.PullMessage, map[string]string{
		"consumerGroup": "CGSQLBad", "topic": "TopicSQL", "queueId": "0", "queueOffset": "0", "maxMsgNums": "32",
		"sysFlag": "4", "commitOffset": "0", "suspendTimeoutMillis": "0", "subscription": "a >>> 3", "subVersion": "0", "expressionType": "SQL92",
	}))
	if err != nil || r.Code != protocol.SubscriptionParseFailed {
		t.Fatalf("bad SQL92 expression: %v %+v", err, r)
	}
}
