package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	rmq "github.com/apache/rocketmq-clients/golang/v5"
	"github.com/apache/rocketmq-clients/golang/v5/credentials"
	pb "github.com/apache/rocketmq-clients/golang/v5/protocol/v2"
	"google.golang.org/grpc"
	grpccreds "google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/quiver-mq/quiver/internal/broker"
	"github.com/quiver-mq/quiver/internal/protocol"
	"github.com/quiver-mq/quiver/internal/proxy"
	"github.com/quiver-mq/quiver/internal/proxy/grpcserver"
	"github.com/quiver-mq/quiver/internal/remoting"
)

var v5LogOnce sync.Once

// quietV5 sends the 5.x client's log (a file under $HOME/logs by default)
// to a temporary directory.
func quietV5(t *testing.T) {
	v5LogOnce.Do(func() {
		dir, err := os.MkdirTemp("", "rmq-v5-log")
		if err == nil {
			os.Setenv("rocketmq.client.logRoot", dir)
		}
		os.Setenv("rocketmq.client.logLevel", "error")
		rmq.ResetLogger()
	})
}

// proxyEnv is a Quiver with a gRPC proxy: local (in the server) or a
// cluster-mode proxy in front of two brokers.
type proxyEnv struct {
	s     *Server
	proxy string // gRPC "host:port"
	cl    *remoting.Client
	// brokers are every broker address, for topic and group admin.
	brokers []string
}

func fastProxy(o *grpcserver.Options) {
	o.RouteTTL = 500 * time.Millisecond
	o.HeartbeatInterval = time.Second
}

func fastTxn(o *broker.Options) {
	o.TransactionCheckInterval = time.Second
	o.TransactionTimeout = time.Second
}

// startLocalProxy runs `quiver serve` with its proxy.
func startLocalProxy(t *testing.T) *proxyEnv {
	t.Helper()
	quietV5(t)
	s := startServer(t, Options{ProxyAddr: "127.0.0.1:0", Proxy: fastProxy, Broker: fastTxn})
	cl := remoting.NewClient(remoting.ClientOptions{})
	t.Cleanup(func() { cl.Close() })
	return &proxyEnv{s: s, proxy: s.ProxyAddr(), cl: cl, brokers: []string{s.BrokerAddr()}}
}

// startClusterProxy runs a name server with two brokers and a separate
// proxy that finds them through the name server.
func startClusterProxy(t *testing.T) *proxyEnv {
	t.Helper()
	quietV5(t)
	s := startServer(t, Options{Broker: fastTxn})
	bo := broker.DefaultOptions(t.TempDir())
	bo.BrokerName = "broker-b"
	bo.ListenAddr = "127.0.0.1:0"
	bo.NamesrvAddrs = []string{s.NamesrvAddr()}
	bo.AutoCreateTopic = true
	bo.Store.SegmentSize = 64 << 20
	bo.Store.IndexSlots, bo.Store.IndexEntries = 10_000, 40_000
	fastTxn(&bo)
	b2, err := broker.New(bo)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b2.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b2.Close() })
	waitFor(t, 5*time.Second, "second broker registered", func() bool { return s.hasBroker(b2.Addr()) })
	p, err := proxy.New(proxy.Options{Addr: "127.0.0.1:0", NamesrvAddrs: []string{s.NamesrvAddr()}, Service: fastProxy})
	if err != nil {
		t.Fatal(err)
	}
	addr, err := p.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	cl := remoting.NewClient(remoting.ClientOptions{})
	t.Cleanup(func() { cl.Close() })
	return &proxyEnv{s: s, proxy: addr.String(), cl: cl, brokers: []string{s.BrokerAddr(), b2.Addr()}}
}

// createTopic creates a topic on every broker and waits for its route.
func (e *proxyEnv) createTopic(t *testing.T, topic string) {
	t.Helper()
	ctx := context.Background()
	for _, addr := range e.brokers {
		r, err := e.cl.Invoke(ctx, addr, protocol.NewRequest(protocol.UpdateAndCreateTopic, map[string]string{
			"topic": topic, "readQueueNums": "4", "writeQueueNums": "4", "perm": "6",
		}))
		if err != nil || r.Code != protocol.Success {
			t.Fatalf("create topic on %s: %v %+v", addr, err, r)
		}
	}
	waitFor(t, 10*time.Second, "the route of "+topic, func() bool {
		r, err := e.cl.Invoke(ctx, e.s.NamesrvAddr(), protocol.NewRequest(protocol.GetRouteInfoByTopic, map[string]string{"topic": topic}))
		return err == nil && r.Code == protocol.Success && strings.Count(string(r.Body), `"brokerName"`) >= 2*len(e.brokers)
	})
}

// createGroup creates a subscription group on every broker.
func (e *proxyEnv) createGroup(t *testing.T, group string, orderly bool) {
	t.Helper()
	body := fmt.Sprintf(`{"groupName":%q,"consumeEnable":true,"consumeBroadcastEnable":true,"consumeMessageOrderly":%v,"retryQueueNums":1,"retryMaxTimes":16,"brokerId":0,"whichBrokerWhenConsumeSlowly":1,"notifyConsumerIdsChangedEnable":true}`, group, orderly)
	for _, addr := range e.brokers {
		req := protocol.NewRequest(protocol.UpdateAndCreateSubscription, nil)
		req.Body = []byte(body)
		r, err := e.cl.Invoke(context.Background(), addr, req)
		if err != nil || r.Code != protocol.Success {
			t.Fatalf("create group on %s: %v %+v", addr, err, r)
		}
	}
}

// requirePop skips a test when the brokers do not serve POP_MESSAGE yet.
func (e *proxyEnv) requirePop(t *testing.T) {
	t.Helper()
	r, err := e.cl.Invoke(context.Background(), e.brokers[0], protocol.NewRequest(200050, map[string]string{
		"consumerGroup": "CG_PROBE", "topic": "TopicProbe", "queueId": "-1", "maxMsgNums": "1",
		"invisibleTime": "10000", "pollTime": "0", "bornTime": strconv.FormatInt(time.Now().UnixMilli(), 10), "initMode": "1",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if r.Code == protocol.RequestCodeNotSupported {
		t.Skip("the broker does not serve POP_MESSAGE yet (internal/pop has not landed)")
	}
}

func (e *proxyEnv) v5Producer(t *testing.T, checker *rmq.TransactionChecker, topics ...string) rmq.Producer {
	t.Helper()
	opts := []rmq.ProducerOption{rmq.WithTopics(topics...)}
	if checker != nil {
		opts = append(opts, rmq.WithTransactionChecker(checker))
	}
	p, err := rmq.NewProducer(&rmq.Config{Endpoint: e.proxy, Credentials: &credentials.SessionCredentials{}}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.GracefulStop() })
	return p
}

func (e *proxyEnv) v5Consumer(t *testing.T, group, topic string) rmq.SimpleConsumer {
	t.Helper()
	c, err := rmq.NewSimpleConsumer(&rmq.Config{Endpoint: e.proxy, ConsumerGroup: group, Credentials: &credentials.SessionCredentials{}},
		rmq.WithAwaitDuration(2*time.Second),
		rmq.WithSubscriptionExpressions(map[string]*rmq.FilterExpression{topic: rmq.SUB_ALL}))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.GracefulStop() })
	return c
}

// receive calls Receive once, treating MESSAGE_NOT_FOUND as empty.
func receive(t *testing.T, c rmq.SimpleConsumer, n int32, invisible time.Duration) []*rmq.MessageView {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	mvs, err := c.Receive(ctx, n, invisible)
	if err != nil {
		var rs *rmq.ErrRpcStatus
		if errors.As(err, &rs) && rs.Code == int32(pb.Code_MESSAGE_NOT_FOUND) {
			return nil
		}
		t.Fatalf("receive: %v", err)
	}
	return mvs
}

func (e *proxyEnv) remotingConsumer(t *testing.T, group, topic string) *collector {
	t.Helper()
	c := newCollector()
	newPushConsumer(t, e.s, group, uniqueInstance(t, "c-"+group), consumer.Clustering, topic, consumer.MessageSelector{}, c)
	return c
}

// forBothModes runs a test against the local proxy and against a cluster
// proxy in front of two brokers.
func forBothModes(t *testing.T, f func(t *testing.T, e *proxyEnv)) {
	t.Run("local", func(t *testing.T) { f(t, startLocalProxy(t)) })
	t.Run("cluster", func(t *testing.T) { f(t, startClusterProxy(t)) })
}

// TestProxyV5SendIsReadByV4: messages sent by the 5.x Go client through
// the proxy (TLS) are consumed by the 4.x client over Remoting.
func TestProxyV5SendIsReadByV4(t *testing.T) {
	t.Parallel()
	forBothModes(t, func(t *testing.T, e *proxyEnv) {
		const topic, n = "TopicV5ToV4", 40
		e.createTopic(t, topic)
		p := e.v5Producer(t, nil, topic)
		for i := range n {
			m := &rmq.Message{Topic: topic, Body: []byte(fmt.Sprintf("v5-%d", i))}
			m.SetTag("TagA")
			m.SetKeys(fmt.Sprintf("key-%d", i))
			m.AddProperty("color", "red")
			rs, err := p.Send(context.Background(), m)
			if err != nil {
				t.Fatalf("send %d: %v", i, err)
			}
			if len(rs) != 1 || rs[0].MessageID == "" {
				t.Fatalf("send receipt %+v", rs)
			}
		}
		c := e.remotingConsumer(t, "CG_V5ToV4", topic)
		c.waitDistinct(t, n, 30*time.Second)
		c.mu.Lock()
		defer c.mu.Unlock()
		brokers := map[string]bool{}
		for _, m := range c.all {
			if m.GetTags() != "TagA" || m.GetProperty("color") != "red" || !strings.HasPrefix(m.GetKeys(), "key-") {
				t.Fatalf("message lost its tag, key or property: %v", m)
			}
			brokers[m.Queue.BrokerName] = true
		}
		if len(brokers) != len(e.brokers) {
			t.Errorf("messages landed on %v, want %d brokers", brokers, len(e.brokers))
		}
	})
}

// TestProxyDelayMessageNotBeforeItsTime: a delay message sent with the 5.x
// client reaches consumers no earlier than its delivery time.
func TestProxyDelayMessageNotBeforeItsTime(t *testing.T) {
	t.Parallel()
	forBothModes(t, func(t *testing.T, e *proxyEnv) {
		const topic = "TopicV5Delay"
		e.createTopic(t, topic)
		p := e.v5Producer(t, nil, topic)
		at := time.Now().Add(3 * time.Second)
		m := &rmq.Message{Topic: topic, Body: []byte("later")}
		m.SetDelayTimestamp(at)
		if _, err := p.Send(context.Background(), m); err != nil {
			t.Fatal(err)
		}
		c := e.remotingConsumer(t, "CG_V5Delay", topic)
		c.waitDistinct(t, 1, 20*time.Second)
		got := time.Now()
		if got.Before(at) {
			t.Fatalf("delivered %s before its time", at.Sub(got))
		}
		// One precision step (1 s) plus the consumer's pull.
		if late := got.Sub(at); late > 2*time.Second {
			t.Fatalf("delivered %s after its time", late)
		}
	})
}

// TestProxyTransactions: commit delivers, rollback does not, and a
// transaction left open is resolved through the check-back on Telemetry.
func TestProxyTransactions(t *testing.T) {
	t.Parallel()
	forBothModes(t, func(t *testing.T, e *proxyEnv) {
		const topic = "TopicV5Txn"
		e.createTopic(t, topic)
		var checks atomic.Int32
		checker := &rmq.TransactionChecker{Check: func(mv *rmq.MessageView) rmq.TransactionResolution {
			checks.Add(1)
			if string(mv.GetBody()) == "orphan-commit" {
				return rmq.COMMIT
			}
			return rmq.ROLLBACK
		}}
		p := e.v5Producer(t, checker, topic)
		send := func(body string) rmq.Transaction {
			tx := p.BeginTransaction()
			if _, err := p.SendWithTransaction(context.Background(), &rmq.Message{Topic: topic, Body: []byte(body)}, tx); err != nil {
				t.Fatalf("send %s: %v", body, err)
			}
			return tx
		}
		if err := send("committed").Commit(); err != nil {
			t.Fatal(err)
		}
		if err := send("rolled-back").RollBack(); err != nil {
			t.Fatal(err)
		}
		send("orphan-commit") // neither: the broker asks back
		c := e.remotingConsumer(t, "CG_V5Txn", topic)
		c.waitDistinct(t, 2, 30*time.Second)
		time.Sleep(500 * time.Millisecond)
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.msgs["committed"] != 1 || c.msgs["orphan-commit"] != 1 || c.msgs["rolled-back"] != 0 {
			t.Fatalf("received %v", c.msgs)
		}
		if checks.Load() == 0 {
			t.Fatal("the checker was never asked")
		}
	})
}

// TestProxyV4SendIsReadByV5: a message sent with the 4.x client is
// received by the 5.x SimpleConsumer (and the reverse is
// TestProxyV5SendIsReadByV4).
func TestProxyV4SendIsReadByV5(t *testing.T) {
	t.Parallel()
	forBothModes(t, func(t *testing.T, e *proxyEnv) {
		e.requirePop(t)
		const topic, group = "TopicV4ToV5", "CG_V4ToV5"
		e.createTopic(t, topic)
		e.createGroup(t, group, false)
		c := e.v5Consumer(t, group, topic)
		receive(t, c, 1, 10*time.Second) // the group starts at the end of the queues
		p := newProducer(t, e.s, "PG_V4ToV5")
		for i := range 10 {
			if _, err := p.SendSync(context.Background(), primitive.NewMessage(topic, []byte(fmt.Sprintf("v4-%d", i)))); err != nil {
				t.Fatal(err)
			}
		}
		got := map[string]bool{}
		deadline := time.Now().Add(30 * time.Second)
		for len(got) < 10 && time.Now().Before(deadline) {
			for _, mv := range receive(t, c, 16, 20*time.Second) {
				got[string(mv.GetBody())] = true
				if err := c.Ack(context.Background(), mv); err != nil {
					t.Fatal(err)
				}
			}
		}
		if len(got) != 10 {
			t.Fatalf("received %d of 10", len(got))
		}
	})
}

// TestProxyHundredMessagesAckedExactlyOnce: 100 messages through the proxy
// are each received and acked once.
func TestProxyHundredMessagesAckedExactlyOnce(t *testing.T) {
	t.Parallel()
	forBothModes(t, func(t *testing.T, e *proxyEnv) {
		e.requirePop(t)
		const topic, group, n = "TopicV5Hundred", "CG_V5Hundred", 100
		e.createTopic(t, topic)
		e.createGroup(t, group, false)
		c := e.v5Consumer(t, group, topic)
		receive(t, c, 1, 10*time.Second)
		p := e.v5Producer(t, nil, topic)
		for i := range n {
			if _, err := p.Send(context.Background(), &rmq.Message{Topic: topic, Body: []byte(fmt.Sprintf("m-%d", i))}); err != nil {
				t.Fatal(err)
			}
		}
		got := map[string]int{}
		deadline := time.Now().Add(60 * time.Second)
		for len(got) < n && time.Now().Before(deadline) {
			for _, mv := range receive(t, c, 32, 30*time.Second) {
				got[string(mv.GetBody())]++
				if err := c.Ack(context.Background(), mv); err != nil {
					t.Fatal(err)
				}
			}
		}
		// Nothing comes back after the acks.
		for _, mv := range receive(t, c, 32, 10*time.Second) {
			got[string(mv.GetBody())]++
		}
		if len(got) != n {
			t.Fatalf("received %d distinct of %d", len(got), n)
		}
		for b, k := range got {
			if k != 1 {
				t.Fatalf("%s received %d times", b, k)
			}
		}
	})
}

// TestProxyUnackedReturnsAndChangeInvisible: a message not acked comes back
// after its invisible time with a higher delivery attempt;
// ChangeInvisibleDuration moves that time.
func TestProxyUnackedReturnsAndChangeInvisible(t *testing.T) {
	t.Parallel()
	forBothModes(t, func(t *testing.T, e *proxyEnv) { unackedReturnsAndChangeInvisible(t, e) })
}

func unackedReturnsAndChangeInvisible(t *testing.T, e *proxyEnv) {
	e.requirePop(t)
	const topic, group = "TopicV5Redeliver", "CG_V5Redeliver"
	e.createTopic(t, topic)
	e.createGroup(t, group, false)
	c := e.v5Consumer(t, group, topic)
	receive(t, c, 1, 10*time.Second)
	p := e.v5Producer(t, nil, topic)
	if _, err := p.Send(context.Background(), &rmq.Message{Topic: topic, Body: []byte("again")}); err != nil {
		t.Fatal(err)
	}
	var first *rmq.MessageView
	for deadline := time.Now().Add(20 * time.Second); first == nil && time.Now().Before(deadline); {
		if mvs := receive(t, c, 1, 10*time.Second); len(mvs) > 0 {
			first = mvs[0]
		}
	}
	if first == nil {
		t.Fatal("nothing received")
	}
	// Push its visibility out to 15 s from now instead of 10 s from the
	// receive (at once: a change in the pop's own millisecond works too).
	got := time.Now()
	if err := c.ChangeInvisibleDuration(first, 15*time.Second); err != nil {
		t.Fatal(err)
	}
	var again *rmq.MessageView
	for deadline := time.Now().Add(45 * time.Second); again == nil && time.Now().Before(deadline); {
		for _, mv := range receive(t, c, 1, 10*time.Second) {
			if string(mv.GetBody()) == "again" {
				again = mv
			}
		}
	}
	if again == nil {
		t.Fatal("the unacked message did not come back")
	}
	if time.Since(got) < 15*time.Second {
		t.Fatalf("came back after %s, before its changed invisible time", time.Since(got))
	}
	if again.GetDeliveryAttempt() <= first.GetDeliveryAttempt() {
		t.Fatalf("delivery attempt %d after %d", again.GetDeliveryAttempt(), first.GetDeliveryAttempt())
	}
	if err := c.Ack(context.Background(), again); err != nil {
		t.Fatal(err)
	}
}

// TestProxyFIFOPerMessageGroup: with an orderly group, messages of each of
// three message groups arrive in send order.
func TestProxyFIFOPerMessageGroup(t *testing.T) {
	t.Parallel()
	forBothModes(t, func(t *testing.T, e *proxyEnv) {
		e.requirePop(t)
		const topic, group, per = "TopicV5Fifo", "CG_V5Fifo", 10
		e.createTopic(t, topic)
		e.createGroup(t, group, true)
		c := e.v5Consumer(t, group, topic)
		receive(t, c, 1, 10*time.Second)
		p := e.v5Producer(t, nil, topic)
		groups := []string{"g-a", "g-b", "g-c"}
		for i := range per {
			for _, g := range groups {
				m := &rmq.Message{Topic: topic, Body: []byte(fmt.Sprintf("%s-%d", g, i))}
				m.SetMessageGroup(g)
				if _, err := p.Send(context.Background(), m); err != nil {
					t.Fatal(err)
				}
			}
		}
		next := map[string]int{}
		total := 0
		for deadline := time.Now().Add(60 * time.Second); total < per*len(groups) && time.Now().Before(deadline); {
			for _, mv := range receive(t, c, 32, 20*time.Second) {
				g := *mv.GetMessageGroup()
				want := fmt.Sprintf("%s-%d", g, next[g])
				if string(mv.GetBody()) != want {
					t.Fatalf("group %s: got %s, want %s", g, mv.GetBody(), want)
				}
				next[g]++
				total++
				if err := c.Ack(context.Background(), mv); err != nil {
					t.Fatal(err)
				}
			}
		}
		if total != per*len(groups) {
			t.Fatalf("received %d of %d", total, per*len(groups))
		}
	})
}

// rawClient is a plaintext gRPC client with a client id, as the Node
// client connects.
func rawClient(t *testing.T, addr string, tlsOn bool) (pb.MessagingServiceClient, context.Context) {
	t.Helper()
	creds := insecure.NewCredentials()
	if tlsOn {
		creds = grpccreds.NewTLS(&tls.Config{InsecureSkipVerify: true})
	}
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	ctx := metadata.AppendToOutgoingContext(context.Background(), "x-mq-client-id", "raw@"+t.Name(), "x-mq-language", "GO")
	return pb.NewMessagingServiceClient(cc), ctx
}

// TestProxyRefusesBadInput: bad names, oversized bodies and bad receipt
// handles get their apis status codes, over plaintext and TLS alike.
func TestProxyRefusesBadInput(t *testing.T) {
	t.Parallel()
	e := startLocalProxy(t)
	e.createTopic(t, "TopicBad")
	for _, tlsOn := range []bool{false, true} {
		c, ctx := rawClient(t, e.proxy, tlsOn)
		ep := &pb.Endpoints{Scheme: pb.AddressScheme_IPv4, Addresses: []*pb.Address{{Host: "127.0.0.1", Port: 1}}}
		rr, err := c.QueryRoute(ctx, &pb.QueryRouteRequest{Topic: &pb.Resource{Name: "bad topic!"}, Endpoints: ep})
		if err != nil || rr.GetStatus().GetCode() != pb.Code_ILLEGAL_TOPIC {
			t.Fatalf("tls=%v bad topic: %v %v", tlsOn, err, rr.GetStatus())
		}
		rr, err = c.QueryRoute(ctx, &pb.QueryRouteRequest{Topic: &pb.Resource{Name: "TopicBad"}, Endpoints: ep})
		if err != nil || rr.GetStatus().GetCode() != pb.Code_OK {
			t.Fatalf("tls=%v route: %v %v", tlsOn, err, rr.GetStatus())
		}
		ids := map[int32]bool{}
		for _, q := range rr.GetMessageQueues() {
			ids[q.GetId()] = true
			if q.GetBroker().GetEndpoints().GetAddresses()[0].GetPort() != 1 {
				t.Fatalf("route names %v, want the endpoints the client dialled", q.GetBroker().GetEndpoints())
			}
		}
		if !ids[0] {
			t.Fatalf("route lacks queue 0: %v", rr.GetMessageQueues())
		}
		msg := func(body []byte) *pb.Message {
			return &pb.Message{Topic: &pb.Resource{Name: "TopicBad"}, Body: body,
				SystemProperties: &pb.SystemProperties{MessageId: "01ABC", MessageType: pb.MessageType_NORMAL}}
		}
		sr, err := c.SendMessage(ctx, &pb.SendMessageRequest{Messages: []*pb.Message{msg(make([]byte, 5<<20))}})
		if err != nil || sr.GetStatus().GetCode() != pb.Code_MESSAGE_BODY_TOO_LARGE {
			t.Fatalf("oversized body: %v %v", err, sr.GetStatus())
		}
		bad := msg([]byte("x"))
		bad.Topic.Name = "rmq_sys_wheel_timer"
		sr, err = c.SendMessage(ctx, &pb.SendMessageRequest{Messages: []*pb.Message{bad}})
		if err != nil || sr.GetStatus().GetCode() != pb.Code_ILLEGAL_TOPIC {
			t.Fatalf("system topic: %v %v", err, sr.GetStatus())
		}
		sr, err = c.SendMessage(ctx, &pb.SendMessageRequest{})
		if err != nil || sr.GetStatus().GetCode() != pb.Code_MESSAGE_CORRUPTED {
			t.Fatalf("no message: %v %v", err, sr.GetStatus())
		}
		group, topic := &pb.Resource{Name: "CG_Bad"}, &pb.Resource{Name: "TopicBad"}
		now := time.Now().UnixMilli()
		expired := fmt.Sprintf("0 %d 10000 0 0 broker-a 0 0 0", now-60_000)
		for _, h := range []string{"garbage", "1 2 3", expired} {
			ar, err := c.AckMessage(ctx, &pb.AckMessageRequest{Group: group, Topic: topic, Entries: []*pb.AckMessageEntry{{MessageId: "x", ReceiptHandle: h}}})
			if err != nil || ar.GetStatus().GetCode() != pb.Code_INVALID_RECEIPT_HANDLE {
				t.Fatalf("ack with handle %q: %v %v", h, err, ar.GetStatus())
			}
			cr, err := c.ChangeInvisibleDuration(ctx, &pb.ChangeInvisibleDurationRequest{Group: group, Topic: topic, ReceiptHandle: h, InvisibleDuration: durationpb.New(time.Second)})
			if err != nil || cr.GetStatus().GetCode() != pb.Code_INVALID_RECEIPT_HANDLE {
				t.Fatalf("change invisible with handle %q: %v %v", h, err, cr.GetStatus())
			}
		}
		ar, err := c.AckMessage(ctx, &pb.AckMessageRequest{Group: &pb.Resource{Name: "bad group"}, Topic: topic})
		if err != nil || ar.GetStatus().GetCode() != pb.Code_ILLEGAL_CONSUMER_GROUP {
			t.Fatalf("bad group: %v %v", err, ar.GetStatus())
		}
		hr, err := c.Heartbeat(ctx, &pb.HeartbeatRequest{ClientType: pb.ClientType_PRODUCER})
		if err != nil || hr.GetStatus().GetCode() != pb.Code_UNRECOGNIZED_CLIENT_TYPE {
			t.Fatalf("heartbeat before settings: %v %v", err, hr.GetStatus())
		}
		er, err := c.EndTransaction(ctx, &pb.EndTransactionRequest{Topic: topic, TransactionId: ""})
		if err != nil || er.GetStatus().GetCode() != pb.Code_INVALID_TRANSACTION_ID {
			t.Fatalf("blank transaction id: %v %v", err, er.GetStatus())
		}
	}
}

// TestProxyTelemetryAnswersFullSettings: a producer's Settings are
// answered with publishing limits and an exponential backoff filled in.
func TestProxyTelemetryAnswersFullSettings(t *testing.T) {
	t.Parallel()
	e := startLocalProxy(t)
	e.createTopic(t, "TopicSettings")
	c, ctx := rawClient(t, e.proxy, false)
	st, err := c.Telemetry(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pt := pb.ClientType_PRODUCER
	err = st.Send(&pb.TelemetryCommand{Command: &pb.TelemetryCommand_Settings{Settings: &pb.Settings{
		ClientType: &pt, PubSub: &pb.Settings_Publishing{Publishing: &pb.Publishing{Topics: []*pb.Resource{{Name: "TopicSettings"}}}},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	r, err := st.Recv()
	if err != nil {
		t.Fatal(err)
	}
	s := r.GetSettings()
	if s.GetPublishing().GetMaxBodySize() <= 0 || s.GetBackoffPolicy().GetExponentialBackoff() == nil || s.GetBackoffPolicy().GetMaxAttempts() <= 0 {
		t.Fatalf("settings reply %v", s)
	}
	hr, err := c.Heartbeat(ctx, &pb.HeartbeatRequest{ClientType: pb.ClientType_PRODUCER})
	if err != nil || hr.GetStatus().GetCode() != pb.Code_OK {
		t.Fatalf("heartbeat after settings: %v %v", err, hr.GetStatus())
	}
	// A client whose last stream closed is forgotten until it sends its
	// settings again.
	st.CloseSend()
	if _, err := st.Recv(); err == nil {
		t.Fatal("the stream stayed open after the client closed it")
	}
	waitFor(t, 5*time.Second, "the client to be forgotten", func() bool {
		hr, err := c.Heartbeat(ctx, &pb.HeartbeatRequest{ClientType: pb.ClientType_PRODUCER})
		return err == nil && hr.GetStatus().GetCode() == pb.Code_UNRECOGNIZED_CLIENT_TYPE
	})
}
