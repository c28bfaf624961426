package server

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	rocketmq "github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
	"github.com/apache/rocketmq-client-go/v2/rlog"

	"github.com/quiver-mq/quiver/internal/broker"
)

func TestMain(m *testing.M) {
	rlog.SetLogLevel("error")
	m.Run()
}

// startServer runs an all-in-one Quiver on free ports in a temp dir.
func startServer(t *testing.T, opts Options) *Server {
	t.Helper()
	if raceEnabled {
		t.Skip("rocketmq-client-go v2.1.2 races internally; run without -race")
	}
	if opts.DataDir == "" {
		opts.DataDir = t.TempDir()
	}
	opts.NamesrvAddr = "127.0.0.1:0"
	opts.BrokerAddr = "127.0.0.1:0"
	user := opts.Broker
	opts.Broker = func(o *broker.Options) {
		o.Store.SegmentSize = 64 << 20
		o.Store.IndexSlots = 10_000
		o.Store.IndexEntries = 40_000
		o.Store.WarmSegments = false
		if user != nil {
			user(o)
		}
	}
	s, err := Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.WaitReady(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	return s
}

var instanceSeq sync.Map

// uniqueInstance gives every client in the test process its own client
// instance (clients with the same instance name share one connection set).
func uniqueInstance(t *testing.T, role string) string {
	n, _ := instanceSeq.LoadOrStore(t.Name()+role, fmt.Sprintf("%s-%s-%d", t.Name(), role, time.Now().UnixNano()))
	return n.(string)
}

func newProducer(t *testing.T, s *Server, group string) rocketmq.Producer {
	t.Helper()
	p, err := rocketmq.NewProducer(
		producer.WithNsResolver(primitive.NewPassthroughResolver([]string{s.NamesrvAddr()})),
		producer.WithGroupName(group),
		producer.WithInstanceName(uniqueInstance(t, "p-"+group)),
		producer.WithRetry(2),
	)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Shutdown() })
	return p
}

type collector struct {
	mu   sync.Mutex
	msgs map[string]int // body → times received
	all  []*primitive.MessageExt
	ch   chan struct{}
}

func newCollector() *collector {
	return &collector{msgs: make(map[string]int), ch: make(chan struct{}, 1<<16)}
}

func (c *collector) handle(_ context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
	c.mu.Lock()
	for _, m := range msgs {
		c.msgs[string(m.Body)]++
		c.all = append(c.all, m)
	}
	c.mu.Unlock()
	for range msgs {
		c.ch <- struct{}{}
	}
	return consumer.ConsumeSuccess, nil
}

func (c *collector) distinct() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.msgs)
}

func (c *collector) waitDistinct(t *testing.T, n int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for c.distinct() < n {
		if time.Now().After(deadline) {
			t.Fatalf("received %d distinct messages, want %d", c.distinct(), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func newPushConsumer(t *testing.T, s *Server, group, instance string, model consumer.MessageModel, topic string, sel consumer.MessageSelector, c *collector) rocketmq.PushConsumer {
	t.Helper()
	pc, err := rocketmq.NewPushConsumer(
		consumer.WithNsResolver(primitive.NewPassthroughResolver([]string{s.NamesrvAddr()})),
		consumer.WithGroupName(group),
		consumer.WithInstance(instance),
		consumer.WithConsumerModel(model),
		consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset),
	)
	if err != nil {
		t.Fatal(err)
	}
	if err := pc.Subscribe(topic, sel, c.handle); err != nil {
		t.Fatal(err)
	}
	if err := pc.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Shutdown() })
	return pc
}

func TestSyncSendAndPushConsume(t *testing.T) {
	s := startServer(t, Options{})
	p := newProducer(t, s, "PG1")
	const n = 100
	for i := range n {
		r, err := p.SendSync(context.Background(), primitive.NewMessage("TopicSync", []byte(fmt.Sprintf("msg-%d", i))))
		if err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
		if r.Status != primitive.SendOK || r.MsgID == "" || r.OffsetMsgID == "" {
			t.Fatalf("send %d: %+v", i, r)
		}
	}
	c := newCollector()
	newPushConsumer(t, s, "CG1", uniqueInstance(t, "c1"), consumer.Clustering, "TopicSync", consumer.MessageSelector{}, c)
	c.waitDistinct(t, n, 30*time.Second)
	for i := range n {
		if c.msgs[fmt.Sprintf("msg-%d", i)] == 0 {
			t.Fatalf("message %d not received", i)
		}
	}
}
