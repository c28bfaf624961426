package server

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"

	"github.com/quiver-mq/quiver/internal/broker"
	"github.com/quiver-mq/quiver/internal/namesrv"
	"github.com/quiver-mq/quiver/internal/protocol"
	"github.com/quiver-mq/quiver/internal/remoting"
)

func TestMessagesAndOffsetsSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, Options{DataDir: dir})
	p := newProducer(t, s, "PGR")
	ctx := context.Background()
	for i := range 50 {
		if _, err := p.SendSync(ctx, primitive.NewMessage("TopicRestart", []byte(fmt.Sprintf("r-%d", i)))); err != nil {
			t.Fatal(err)
		}
	}
	c := newCollector()
	pc := newPushConsumer(t, s, "CGR", uniqueInstance(t, "c1"), consumer.Clustering, "TopicRestart", consumer.MessageSelector{}, c)
	c.waitDistinct(t, 50, 30*time.Second)
	// The client commits offsets in pulls and every 5 s; wait until the
	// broker holds all of them, then restart it.
	waitFor(t, 20*time.Second, "offsets committed to the broker", func() bool {
		var sum int64
		for q := range int32(8) {
			off, _ := s.Broker().CommittedOffset("CGR", "TopicRestart", q)
			sum += off
		}
		return sum == 50
	})
	pc.Shutdown()
	p.Shutdown()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s2 := startServer(t, Options{DataDir: dir})
	p2 := newProducer(t, s2, "PGR2")
	for i := 50; i < 60; i++ {
		if _, err := p2.SendSync(ctx, primitive.NewMessage("TopicRestart", []byte(fmt.Sprintf("r-%d", i)))); err != nil {
			t.Fatal(err)
		}
	}
	// The same group resumes after what it consumed: only the new ten.
	c2 := newCollector()
	newPushConsumer(t, s2, "CGR", uniqueInstance(t, "c2"), consumer.Clustering, "TopicRestart", consumer.MessageSelector{}, c2)
	c2.waitDistinct(t, 10, 30*time.Second)
	time.Sleep(time.Second)
	for body := range c2.msgs {
		var i int
		fmt.Sscanf(body, "r-%d", &i)
		if i < 50 {
			t.Fatalf("message %s consumed again after restart: offsets were not kept", body)
		}
	}
	// A new group still sees all sixty stored messages.
	c3 := newCollector()
	newPushConsumer(t, s2, "CGR-new", uniqueInstance(t, "c3"), consumer.Clustering, "TopicRestart", consumer.MessageSelector{}, c3)
	c3.waitDistinct(t, 60, 30*time.Second)
}

func TestTwoBrokersServeOneTopic(t *testing.T) {
	s := startServer(t, Options{})
	bo := broker.DefaultOptions(t.TempDir())
	bo.BrokerName = "broker-b"
	bo.ListenAddr = "127.0.0.1:0"
	bo.NamesrvAddrs = []string{s.NamesrvAddr()}
	bo.AutoCreateTopic = true
	bo.Store.SegmentSize = 64 << 20
	bo.Store.IndexSlots, bo.Store.IndexEntries = 10_000, 40_000
	b2, err := broker.New(bo)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b2.Start(); err != nil {
		t.Fatal(err)
	}
	defer b2.Close()
	waitFor(t, 5*time.Second, "second broker registered", func() bool {
		return s.hasBroker(b2.Addr())
	})
	// Create the topic on both brokers, as an admin would: auto-creation
	// through TBW102 creates it only where the first sends land.
	ctx := context.Background()
	cl := remoting.NewClient(remoting.ClientOptions{})
	defer cl.Close()
	for _, addr := range []string{s.BrokerAddr(), b2.Addr()} {
		r, err := cl.Invoke(ctx, addr, protocol.NewRequest(protocol.UpdateAndCreateTopic, map[string]string{
			"topic": "TopicTwo", "readQueueNums": "4", "writeQueueNums": "4", "perm": "6",
		}))
		if err != nil || r.Code != protocol.Success {
			t.Fatalf("create topic on %s: %v %+v", addr, err, r)
		}
	}
	waitFor(t, 10*time.Second, "the route to list both brokers", func() bool {
		r, err := cl.Invoke(ctx, s.NamesrvAddr(), protocol.NewRequest(protocol.GetRouteInfoByTopic, map[string]string{"topic": "TopicTwo"}))
		return err == nil && r.Code == protocol.Success && strings.Count(string(r.Body), `"brokerName"`) >= 4
	})
	p := newProducer(t, s, "PG2B")
	brokers := map[string]int{}
	const n = 80
	for i := range n {
		r, err := p.SendSync(ctx, primitive.NewMessage("TopicTwo", []byte(fmt.Sprintf("two-%d", i))))
		if err != nil {
			t.Fatal(err)
		}
		brokers[r.MessageQueue.BrokerName]++
	}
	if len(brokers) != 2 {
		t.Fatalf("sends went to %v, want both brokers", brokers)
	}
	c := newCollector()
	newPushConsumer(t, s, "CG2B", uniqueInstance(t, "c"), consumer.Clustering, "TopicTwo", consumer.MessageSelector{}, c)
	c.waitDistinct(t, n, 30*time.Second)
	from := map[string]bool{}
	c.mu.Lock()
	for _, m := range c.all {
		from[m.Queue.BrokerName] = true
	}
	c.mu.Unlock()
	if len(from) != 2 {
		t.Fatalf("consumed from %v, want both brokers", from)
	}
}

// TestConsumerRunningInfoReachesTheClient: an admin asks the broker, the
// broker asks the consumer over the consumer's own connection.
func TestConsumerRunningInfoReachesTheClient(t *testing.T) {
	s := startServer(t, Options{})
	p := newProducer(t, s, "PGI")
	if _, err := p.SendSync(context.Background(), primitive.NewMessage("TopicInfo", []byte("x"))); err != nil {
		t.Fatal(err)
	}
	c := newCollector()
	newPushConsumer(t, s, "CGI", uniqueInstance(t, "c"), consumer.Clustering, "TopicInfo", consumer.MessageSelector{}, c)
	var ids []string
	waitFor(t, 10*time.Second, "consumer registered", func() bool {
		ids = s.Broker().ConsumerIDs("CGI")
		return len(ids) == 1
	})
	cl := remoting.NewClient(remoting.ClientOptions{})
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	r, err := cl.Invoke(ctx, s.BrokerAddr(), protocol.NewRequest(protocol.GetConsumerRunningInfo, map[string]string{
		"consumerGroup": "CGI", "clientId": ids[0], "jstackEnable": "false",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if r.Code != protocol.Success || !strings.Contains(string(r.Body), "TopicInfo") {
		t.Fatalf("running info: code %d remark %q body %.200s", r.Code, r.Remark, r.Body)
	}
	r, err = cl.Invoke(ctx, s.BrokerAddr(), protocol.NewRequest(protocol.GetConsumerRunningInfo, map[string]string{
		"consumerGroup": "CGI", "clientId": "nobody@1",
	}))
	if err != nil || r.Code != protocol.SystemError {
		t.Fatalf("running info of an unknown client: %v %+v", err, r)
	}
}

// TestBrokerRegistersWithEveryNameServer: two independent name servers both
// route to the broker, and a client using either one works.
func TestBrokerRegistersWithEveryNameServer(t *testing.T) {
	s := startServer(t, Options{})
	ns2 := namesrv.New(namesrv.Options{Addr: "127.0.0.1:0"})
	addr2, err := ns2.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer ns2.Close()
	bo := broker.DefaultOptions(t.TempDir())
	bo.BrokerName = "broker-two-ns"
	bo.ListenAddr = "127.0.0.1:0"
	bo.NamesrvAddrs = []string{s.NamesrvAddr(), addr2.String()}
	bo.AutoCreateTopic = true
	bo.Store.SegmentSize = 64 << 20
	bo.Store.IndexSlots, bo.Store.IndexEntries = 10_000, 40_000
	b, err := broker.New(bo)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Start(); err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	other := &Server{namesrvAddr: addr2.String(), br: b}
	waitFor(t, 5*time.Second, "registration with both name servers", func() bool {
		return s.hasBroker(b.Addr()) && other.hasBroker(b.Addr())
	})
	p := newProducer(t, other, "PGNS2")
	if _, err := p.SendSync(context.Background(), primitive.NewMessage("TopicNS2", []byte("via the second name server"))); err != nil {
		t.Fatal(err)
	}
}
