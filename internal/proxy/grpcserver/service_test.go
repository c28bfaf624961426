package grpcserver

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	rmq "github.com/apache/rocketmq-clients/golang/v5"
	"github.com/apache/rocketmq-clients/golang/v5/credentials"
	pb "github.com/apache/rocketmq-clients/golang/v5/protocol/v2"
	"google.golang.org/grpc"
	grpccreds "google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/durationpb"
)

var logOnce sync.Once

// serve runs the service over TLS (the Go client always dials TLS) in front
// of a fake broker and returns its address.
func serve(t *testing.T, fb *fakeBroker) string {
	t.Helper()
	logOnce.Do(func() {
		if dir, err := os.MkdirTemp("", "rmq-v5-log"); err == nil {
			os.Setenv("rocketmq.client.logRoot", dir)
		}
		os.Setenv("rocketmq.client.logLevel", "error")
		rmq.ResetLogger()
	})
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert := tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	o := DefaultOptions(fb.addr)
	o.HeartbeatInterval = time.Second
	svc := New(o)
	svc.Start()
	gs := grpc.NewServer(grpc.Creds(grpccreds.NewTLS(&tls.Config{Certificates: []tls.Certificate{cert}})))
	svc.Register(gs)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go gs.Serve(ln)
	t.Cleanup(func() {
		gs.Stop()
		svc.Close()
	})
	return ln.Addr().String()
}

func receiveOnce(t *testing.T, c rmq.SimpleConsumer, n int32, invisible time.Duration) []*rmq.MessageView {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
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

// TestPopContractWithGoClient drives receive, ack and change-invisible with
// the real Go 5.x client against a broker that speaks the Java Pop
// contract: every message is acked once, a message whose invisible time was
// shortened comes back with a higher delivery attempt, and the handle
// returned by ChangeInvisibleDuration is the one that acks.
func TestPopContractWithGoClient(t *testing.T) {
	if raceEnabled {
		t.Skip("the Go 5.x client races internally; TestPopContractRaw covers this under -race")
	}
	fb := startFakeBroker(t)
	addr := serve(t, fb)
	cfg := func(group string) *rmq.Config {
		return &rmq.Config{Endpoint: addr, ConsumerGroup: group, Credentials: &credentials.SessionCredentials{}}
	}
	p, err := rmq.NewProducer(cfg(""), rmq.WithTopics("TopicPop"))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	defer p.GracefulStop()
	const n = 30
	for i := range n {
		m := &rmq.Message{Topic: "TopicPop", Body: []byte(fmt.Sprintf("pop-%d", i))}
		m.SetTag("t")
		if _, err := p.Send(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
	c, err := rmq.NewSimpleConsumer(cfg("CG_Pop"), rmq.WithAwaitDuration(5*time.Second),
		rmq.WithSubscriptionExpressions(map[string]*rmq.FilterExpression{"TopicPop": rmq.SUB_ALL}))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	defer c.GracefulStop()

	var held *rmq.MessageView
	got := map[string]int{}
	for deadline := time.Now().Add(20 * time.Second); len(got) < n && time.Now().Before(deadline); {
		for _, mv := range receiveOnce(t, c, 8, 10*time.Second) {
			got[string(mv.GetBody())]++
			if mv.GetTag() == nil || *mv.GetTag() != "t" || mv.GetDeliveryAttempt() != 1 {
				t.Fatalf("message %s: tag %v attempt %d", mv.GetBody(), mv.GetTag(), mv.GetDeliveryAttempt())
			}
			if held == nil {
				held = mv // not acked: comes back
				continue
			}
			if err := c.Ack(context.Background(), mv); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(got) != n {
		t.Fatalf("received %d distinct of %d", len(got), n)
	}
	changed := time.Now()
	if err := c.ChangeInvisibleDuration(held, time.Second); err != nil {
		t.Fatal(err)
	}
	var again *rmq.MessageView
	for deadline := time.Now().Add(15 * time.Second); again == nil && time.Now().Before(deadline); {
		for _, mv := range receiveOnce(t, c, 8, 10*time.Second) {
			if string(mv.GetBody()) != string(held.GetBody()) {
				t.Fatalf("%s delivered again after its ack", mv.GetBody())
			}
			again = mv
		}
	}
	if again == nil {
		t.Fatal("the unacked message did not come back")
	}
	if time.Since(changed) < time.Second-5*time.Millisecond { // the broker keeps ms
		t.Fatalf("back after %s, before its changed invisible time", time.Since(changed))
	}
	if again.GetDeliveryAttempt() != 2 {
		t.Fatalf("delivery attempt %d, want 2", again.GetDeliveryAttempt())
	}
	// The old handle no longer acks; the new one does.
	if err := c.Ack(context.Background(), again); err != nil {
		t.Fatal(err)
	}
	fb.mu.Lock()
	defer fb.mu.Unlock()
	for b, k := range fb.acks {
		if k != 1 {
			t.Fatalf("%s acked %d times", b, k)
		}
	}
	if len(fb.acks) != n {
		t.Fatalf("%d acked, want %d", len(fb.acks), n)
	}
}

// TestPopContractRaw is the same contract through a raw gRPC client:
// settings, send, the receive stream's shape (status, messages, delivery
// timestamp), ack, change-invisible and a stale handle.
func TestPopContractRaw(t *testing.T) {
	fb := startFakeBroker(t)
	svc := New(DefaultOptions(fb.addr))
	svc.Start()
	gs := grpc.NewServer()
	svc.Register(gs)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go gs.Serve(ln)
	defer func() {
		gs.Stop()
		svc.Close()
	}()
	cc, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	c := pb.NewMessagingServiceClient(cc)
	ctx := metadata.AppendToOutgoingContext(context.Background(), "x-mq-client-id", "raw-client")
	topic, group := &pb.Resource{Name: "TopicRaw"}, &pb.Resource{Name: "CG_Raw"}

	tel, err := c.Telemetry(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ct := pb.ClientType_SIMPLE_CONSUMER
	if err := tel.Send(&pb.TelemetryCommand{Command: &pb.TelemetryCommand_Settings{Settings: &pb.Settings{
		ClientType: &ct, PubSub: &pb.Settings_Subscription{Subscription: &pb.Subscription{Group: group,
			Subscriptions: []*pb.SubscriptionEntry{{Topic: topic, Expression: &pb.FilterExpression{Type: pb.FilterType_TAG, Expression: "*"}}}}},
	}}}); err != nil {
		t.Fatal(err)
	}
	r, err := tel.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if sub := r.GetSettings().GetSubscription(); sub.GetReceiveBatchSize() <= 0 || sub.Fifo == nil || sub.GetLongPollingTimeout() == nil ||
		r.GetSettings().GetBackoffPolicy().GetExponentialBackoff() == nil {
		t.Fatalf("settings reply %v", r.GetSettings())
	}
	for i := range 3 {
		sr, err := c.SendMessage(ctx, &pb.SendMessageRequest{Messages: []*pb.Message{{Topic: topic, Body: []byte(fmt.Sprint("raw-", i)),
			SystemProperties: &pb.SystemProperties{MessageId: fmt.Sprint("ID", i), MessageType: pb.MessageType_NORMAL}}}})
		if err != nil || sr.GetStatus().GetCode() != pb.Code_OK || sr.GetEntries()[0].GetMessageId() != fmt.Sprint("ID", i) {
			t.Fatalf("send: %v %v", err, sr)
		}
	}
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	st, err := c.ReceiveMessage(rctx, &pb.ReceiveMessageRequest{Group: group, BatchSize: 10, InvisibleDuration: durationpb.New(10 * time.Second),
		MessageQueue: &pb.MessageQueue{Topic: topic, Id: 0, Broker: &pb.Broker{Name: fakeBrokerName}}})
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	var msgs []*pb.Message
	for {
		resp, err := st.Recv()
		if err != nil {
			break
		}
		switch c := resp.GetContent().(type) {
		case *pb.ReceiveMessageResponse_Status:
			kinds = append(kinds, "status:"+c.Status.GetCode().String())
		case *pb.ReceiveMessageResponse_Message:
			if len(kinds) == 0 || kinds[len(kinds)-1] != "message" {
				kinds = append(kinds, "message")
			}
			msgs = append(msgs, c.Message)
		case *pb.ReceiveMessageResponse_DeliveryTimestamp:
			kinds = append(kinds, "timestamp")
		}
	}
	if fmt.Sprint(kinds) != "[status:OK message timestamp]" || len(msgs) != 3 {
		t.Fatalf("stream %v with %d messages", kinds, len(msgs))
	}
	for _, m := range msgs {
		sp := m.GetSystemProperties()
		if sp.GetBodyDigest().GetChecksum() == "" || sp.GetReceiptHandle() == "" || sp.GetDeliveryAttempt() != 1 || m.GetTopic().GetName() != "TopicRaw" {
			t.Fatalf("delivered message %v", m)
		}
	}
	first := msgs[0].GetSystemProperties()
	cr, err := c.ChangeInvisibleDuration(ctx, &pb.ChangeInvisibleDurationRequest{Group: group, Topic: topic,
		ReceiptHandle: first.GetReceiptHandle(), InvisibleDuration: durationpb.New(time.Minute), MessageId: first.GetMessageId()})
	if err != nil || cr.GetStatus().GetCode() != pb.Code_OK || cr.GetReceiptHandle() == first.GetReceiptHandle() {
		t.Fatalf("change invisible: %v %v", err, cr)
	}
	// The stale handle no longer acks; the fresh one and the others do.
	ar, err := c.AckMessage(ctx, &pb.AckMessageRequest{Group: group, Topic: topic, Entries: []*pb.AckMessageEntry{{MessageId: first.GetMessageId(), ReceiptHandle: first.GetReceiptHandle()}}})
	if err != nil || ar.GetStatus().GetCode() != pb.Code_INVALID_RECEIPT_HANDLE {
		t.Fatalf("ack with a stale handle: %v %v, want INVALID_RECEIPT_HANDLE", err, ar.GetStatus())
	}
	entries := []*pb.AckMessageEntry{{MessageId: first.GetMessageId(), ReceiptHandle: cr.GetReceiptHandle()}}
	for _, m := range msgs[1:] {
		entries = append(entries, &pb.AckMessageEntry{MessageId: m.GetSystemProperties().GetMessageId(), ReceiptHandle: m.GetSystemProperties().GetReceiptHandle()})
	}
	ar, err = c.AckMessage(ctx, &pb.AckMessageRequest{Group: group, Topic: topic, Entries: entries})
	if err != nil || ar.GetStatus().GetCode() != pb.Code_OK || len(ar.GetEntries()) != 3 {
		t.Fatalf("ack: %v %v", err, ar)
	}
	tel.CloseSend()
}
