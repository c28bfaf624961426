package server

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	pb "github.com/apache/rocketmq-clients/golang/v5/protocol/v2"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/quiver-mq/quiver/internal/message"
	"github.com/quiver-mq/quiver/internal/protocol"
)

// TestMeasureW7AndGRPCDrain reports, in one run against one `quiver serve`
// (NameServer + Broker + Proxy in process): W7, 1 KiB sends through the
// gRPC proxy against sends over Remoting with the same concurrency, and a
// Pop drain of a 1,000,000-message backlog through the proxy with one
// AckMessage per message. It is a measurement, not a check: it runs only
// with QUIVER_MEASURE=1 and asserts nothing about the figures.
//
//	QUIVER_MEASURE=1 go test -run TestMeasureW7AndGRPCDrain -v -timeout 20m ./server
func TestMeasureW7AndGRPCDrain(t *testing.T) {
	if os.Getenv("QUIVER_MEASURE") == "" {
		t.Skip("set QUIVER_MEASURE=1 to measure")
	}
	sends, backlog := 200_000, 1_000_000
	if v, _ := strconv.Atoi(os.Getenv("QUIVER_MEASURE_BACKLOG")); v > 0 {
		backlog = v
	}
	const inflight = 64
	e := startLocalProxy(t)
	body := make([]byte, 1024)
	for i := range body {
		body[i] = byte(i*7 + 3)
	}
	ctx := context.Background()

	// Remoting: SEND_MESSAGE, inflight requests at a time.
	e.createTopic(t, "W7Remoting")
	rate := func(n int, f func(i int) error) float64 {
		var next atomic.Int64
		var failed atomic.Int64
		start := time.Now()
		var wg sync.WaitGroup
		for range inflight {
			wg.Go(func() {
				for {
					i := int(next.Add(1) - 1)
					if i >= n {
						return
					}
					if err := f(i); err != nil {
						if failed.Add(1) == 1 {
							t.Errorf("send %d: %v", i, err)
						}
					}
				}
			})
		}
		wg.Wait()
		return float64(n) / time.Since(start).Seconds()
	}
	remotingSend := func(topic string, i int) error {
		req := protocol.NewRequest(protocol.SendMessage, map[string]string{
			"producerGroup": "PG_W7", "topic": topic, "queueId": strconv.Itoa(i % 4), "sysFlag": "0",
			"bornTimestamp": strconv.FormatInt(time.Now().UnixMilli(), 10), "flag": "0",
			"properties":   message.PropertyUniqKey + "\x01" + fmt.Sprintf("W7R%09d", i) + "\x02",
			"defaultTopic": "TBW102", "defaultTopicQueueNums": "4",
		})
		req.Body = body
		r, err := e.cl.Invoke(ctx, e.s.BrokerAddr(), req)
		if err == nil && r.Code != protocol.Success {
			err = fmt.Errorf("code %d %s", r.Code, r.Remark)
		}
		return err
	}
	rem := rate(sends, func(i int) error { return remotingSend("W7Remoting", i) })

	// gRPC: SendMessage through the proxy, one message per call.
	e.createTopic(t, "W7GRPC")
	c, cctx := rawClient(t, e.proxy, false)
	grpcRate := rate(sends, func(i int) error {
		r, err := c.SendMessage(cctx, &pb.SendMessageRequest{Messages: []*pb.Message{{
			Topic: &pb.Resource{Name: "W7GRPC"}, Body: body,
			SystemProperties: &pb.SystemProperties{MessageId: fmt.Sprintf("W7G%09d", i), MessageType: pb.MessageType_NORMAL},
		}}})
		if err == nil && r.GetStatus().GetCode() != pb.Code_OK {
			err = fmt.Errorf("%v", r.GetStatus())
		}
		return err
	})
	t.Logf("W7: Remoting send %.0f msg/s, gRPC send %.0f msg/s, gRPC / Remoting = %.2f (1 KiB, %d in flight, %d each)",
		rem, grpcRate, grpcRate/rem, inflight, sends)

	// Pop drain: a backlog stored over Remoting, received and acked one by
	// one through the proxy.
	e.createTopic(t, "W3GRPC")
	fill := time.Now()
	rate(backlog, func(i int) error { return remotingSend("W3GRPC", i) })
	t.Logf("backlog of %d stored in %v", backlog, time.Since(fill).Round(time.Millisecond))
	rr, err := c.QueryRoute(cctx, &pb.QueryRouteRequest{Topic: &pb.Resource{Name: "W3GRPC"},
		Endpoints: &pb.Endpoints{Scheme: pb.AddressScheme_IPv4, Addresses: []*pb.Address{{Host: "127.0.0.1", Port: 1}}}})
	if err != nil || len(rr.GetMessageQueues()) == 0 {
		t.Fatalf("route: %v %v", err, rr.GetStatus())
	}
	mq := rr.GetMessageQueues()[0]
	group := &pb.Resource{Name: "CG_W3GRPC"}
	var got, acked, calls atomic.Int64
	var recvNanos, ackNanos atomic.Int64
	start := time.Now()
	deadline := start.Add(10 * time.Minute)
	// The drain ends at the last ack; receives still long-polling then are
	// cancelled.
	rctx, cancelReceives := context.WithCancel(cctx)
	defer cancelReceives()
	var endNanos atomic.Int64
	var wg sync.WaitGroup
	receivers := 4
	if v, _ := strconv.Atoi(os.Getenv("QUIVER_MEASURE_RECEIVERS")); v > 0 {
		receivers = v
	}
	for range receivers {
		wg.Go(func() {
			for got.Load() < int64(backlog) && time.Now().Before(deadline) {
				calls.Add(1)
				t0 := time.Now()
				st, err := c.ReceiveMessage(rctx, &pb.ReceiveMessageRequest{
					Group: group, MessageQueue: mq, BatchSize: 32,
					FilterExpression:  &pb.FilterExpression{Type: pb.FilterType_TAG, Expression: "*"},
					InvisibleDuration: durationpb.New(time.Minute),
				})
				if err != nil {
					if rctx.Err() == nil {
						t.Errorf("receive: %v", err)
					}
					return
				}
				var msgs []*pb.Message
				for {
					r, err := st.Recv()
					if err != nil {
						break
					}
					if m := r.GetMessage(); m != nil {
						msgs = append(msgs, m)
					}
				}
				recvNanos.Add(int64(time.Since(t0)))
				got.Add(int64(len(msgs)))
				// One AckMessage per message, all of a batch at once.
				var awg sync.WaitGroup
				for _, m := range msgs {
					awg.Go(func() {
						t1 := time.Now()
						defer func() { ackNanos.Add(int64(time.Since(t1))) }()
						ar, err := c.AckMessage(cctx, &pb.AckMessageRequest{Group: group, Topic: m.GetTopic(),
							Entries: []*pb.AckMessageEntry{{MessageId: m.GetSystemProperties().GetMessageId(), ReceiptHandle: m.GetSystemProperties().GetReceiptHandle()}}})
						if err != nil || ar.GetStatus().GetCode() != pb.Code_OK {
							t.Errorf("ack: %v %v", err, ar.GetStatus())
							return
						}
						if acked.Add(1) == int64(backlog) {
							endNanos.Store(int64(time.Since(start)))
							cancelReceives()
						}
					})
				}
				awg.Wait()
			}
		})
	}
	wg.Wait()
	el := time.Duration(endNanos.Load())
	if el == 0 {
		el = time.Since(start)
	}
	t.Logf("Pop drain through gRPC: %d received, %d acked one by one in %v = %.0f msg/s (%d receives, %.1f ms each)",
		got.Load(), acked.Load(), el.Round(time.Millisecond), float64(acked.Load())/el.Seconds(),
		calls.Load(), float64(recvNanos.Load())/float64(max(calls.Load(), 1))/1e6)
	t.Logf("ack latency avg %.1f ms", float64(ackNanos.Load())/float64(max(acked.Load(), 1))/1e6)
}
