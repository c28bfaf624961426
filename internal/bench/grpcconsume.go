package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	pb "github.com/apache/rocketmq-clients/golang/v5/protocol/v2"
	"google.golang.org/protobuf/types/known/durationpb"
)

// The gRPC consumer is a SimpleConsumer's loop: ReceiveMessage (a pop of
// up to Batch messages, invisible for grpcInvisible) on one connection,
// one receive loop per readable queue of the route, each asking its own
// queue, then AckMessage: one call per message, all of a batch at once,
// when CommitEvery is 1 (as the SDK acks), else one call for the whole
// batch. A failed receive or ack is counted in Result.Errors.

// grpcInvisible is how long a received message stays invisible to others
// (the proxy's minimum is 10 s).
const grpcInvisible = 30 * time.Second

// receiveReserve is what the proxy keeps of a receive's deadline for its
// answer (half the default 3 s request timeout): a receive's long polling
// lasts its deadline minus this, and none below 1 s.
const receiveReserve = 1500 * time.Millisecond

type grpcConsumeOpts struct {
	want     int64         // stop once this many were received; 0 = no bound
	hold     time.Duration // long polling; 0 = stop a loop once it finds nothing
	onBody   func(rec *recorder, body []byte, now time.Time)
	started  chan struct{} // closed once every loop's first receive is sent
	deadline time.Time
	consumed *atomic.Int64
}

// grpcConsumeRun receives and acks topic's messages through the proxy as
// group and returns how many were acked.
func grpcConsumeRun(ctx context.Context, cfg Config, conn *grpcConn, queues []*pb.MessageQueue, m *meter, o grpcConsumeOpts) (int64, sendStats) {
	ctx, cancel := context.WithDeadline(ctx, o.deadline)
	defer cancel()
	var (
		acked     atomic.Int64
		wg, ready sync.WaitGroup
	)
	eb := &errorBudget{what: "receive or ack", cancel: cancel}
	failed, fatal := eb.fail, &eb.fatal
	more := func() bool { return ctx.Err() == nil && (o.want == 0 || o.consumed.Load() < o.want) }
	group := &pb.Resource{Name: cfg.Group}
	filter := &pb.FilterExpression{Type: pb.FilterType_TAG, Expression: "*"}
	invisible := durationpb.New(grpcInvisible)
	cctx := conn.ctx(ctx)
	// Acks outlive the end of the run: what was received is acked.
	actx := conn.ctx(context.WithoutCancel(ctx))
	ready.Add(len(queues))
	for _, q := range queues {
		rec := m.recorder()
		wg.Go(func() {
			first, empty := true, 0
			defer func() {
				if first {
					ready.Done()
				}
			}()
			req := &pb.ReceiveMessageRequest{Group: group, MessageQueue: q, FilterExpression: filter, BatchSize: int32(cfg.Batch), InvisibleDuration: invisible}
			for more() {
				// The proxy long-polls for the deadline minus its reserve;
				// a deadline under the reserve plus 1 s asks for no wait.
				timeout := receiveReserve - 100*time.Millisecond
				if o.hold > 0 {
					timeout = o.hold + receiveReserve
				}
				rctx, rcancel := context.WithTimeout(cctx, timeout)
				if first {
					ready.Done()
					first = false
				}
				status, msgs, err := receive(rctx, conn, req)
				rcancel()
				if err != nil {
					if ctx.Err() != nil || fatal.Load() {
						return
					}
					failed(fmt.Errorf("bench: gRPC receive: %w", err))
					time.Sleep(10 * time.Millisecond)
					continue
				}
				switch status.GetCode() {
				case pb.Code_OK:
				case pb.Code_MESSAGE_NOT_FOUND:
					if o.hold == 0 && o.want == 0 {
						// Drained, unless the dispatcher is a little behind
						// the acks: look a few more times first.
						if empty++; empty >= 5 {
							return
						}
						time.Sleep(10 * time.Millisecond)
					}
					continue
				case pb.Code_TOO_MANY_REQUESTS:
					time.Sleep(10 * time.Millisecond)
					continue
				default:
					failed(statusError("ReceiveMessage", status))
					time.Sleep(10 * time.Millisecond)
					continue
				}
				empty = 0
				now := time.Now()
				for _, msg := range msgs {
					if o.onBody != nil {
						o.onBody(rec, msg.GetBody(), now)
					} else {
						rec.count(1)
					}
				}
				o.consumed.Add(int64(len(msgs)))
				a, acancel := context.WithTimeout(actx, 10*time.Second)
				acked.Add(ackAll(a, conn, group, msgs, cfg.CommitEvery == 1, failed))
				acancel()
			}
		})
	}
	if o.started != nil {
		go func() { ready.Wait(); close(o.started) }()
	}
	wg.Wait()
	return acked.Load(), eb.stats()
}

// receive runs one ReceiveMessage: its status, then its messages.
func receive(ctx context.Context, conn *grpcConn, req *pb.ReceiveMessageRequest) (*pb.Status, []*pb.Message, error) {
	stream, err := conn.c.ReceiveMessage(ctx, req)
	if err != nil {
		return nil, nil, err
	}
	var (
		status *pb.Status
		msgs   []*pb.Message
	)
	for {
		r, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, err
		}
		switch c := r.GetContent().(type) {
		case *pb.ReceiveMessageResponse_Status:
			status = c.Status
		case *pb.ReceiveMessageResponse_Message:
			msgs = append(msgs, c.Message)
		}
	}
	if status == nil {
		return nil, nil, fmt.Errorf("%w no status to ReceiveMessage", ErrGRPCStatus)
	}
	return status, msgs, nil
}

// ackAll acknowledges msgs, one AckMessage each (all at once) or one for
// all, and returns how many the proxy accepted.
func ackAll(ctx context.Context, conn *grpcConn, group *pb.Resource, msgs []*pb.Message, each bool, failed func(error)) int64 {
	if len(msgs) == 0 {
		return 0
	}
	ack := func(ms []*pb.Message) int64 {
		req := &pb.AckMessageRequest{Group: group, Topic: ms[0].GetTopic()}
		for _, m := range ms {
			req.Entries = append(req.Entries, &pb.AckMessageEntry{
				MessageId: m.GetSystemProperties().GetMessageId(), ReceiptHandle: m.GetSystemProperties().GetReceiptHandle(),
			})
		}
		r, err := conn.c.AckMessage(ctx, req)
		if err != nil {
			failed(fmt.Errorf("bench: gRPC ack: %w", err))
			return 0
		}
		var n int64
		for _, e := range r.GetEntries() {
			if e.GetStatus().GetCode() != pb.Code_OK {
				failed(statusError("AckMessage", e.GetStatus()))
				continue
			}
			n++
		}
		if len(r.GetEntries()) == 0 && r.GetStatus().GetCode() != pb.Code_OK {
			failed(statusError("AckMessage", r.GetStatus()))
		}
		return n
	}
	if !each {
		return ack(msgs)
	}
	var (
		n  atomic.Int64
		wg sync.WaitGroup
	)
	for i := range msgs {
		wg.Go(func() { n.Add(ack(msgs[i : i+1])) })
	}
	wg.Wait()
	return n.Load()
}

// dialConsumer connects to the proxy and asks for topic's readable queues.
func dialConsumer(ctx context.Context, proxy, topic string) (*grpcConn, []*pb.MessageQueue, error) {
	c, err := dialProxy(proxy)
	if err != nil {
		return nil, nil, err
	}
	qs, err := c.queues(ctx, topic, false)
	if err != nil {
		c.close()
		return nil, nil, err
	}
	return c, qs, nil
}

// ConsumeGRPC drains tgt.Topic through the gRPC proxy at proxy as a
// SimpleConsumer of cfg.Group: ReceiveMessage of cfg.Batch (at most 32),
// AckMessage per message when cfg.CommitEvery is 1, else per batch; until
// cfg.Count messages (when set) or until nothing more is found, or
// cfg.Duration passes. Committed is the number of messages acked.
func ConsumeGRPC(ctx context.Context, cfg Config, proxy string, tgt *Target) (Result, error) {
	cfg.fill()
	conn, qs, err := dialConsumer(ctx, proxy, tgt.Topic)
	if err != nil {
		return Result{}, err
	}
	defer conn.close()
	m := newMeter(cfg.Name, cfg.Size, cfg.Progress)
	var consumed atomic.Int64
	m.begin()
	acked, st := grpcConsumeRun(ctx, cfg, conn, qs, m, grpcConsumeOpts{
		want: int64(cfg.Count), deadline: m.start.Add(cfg.Duration), consumed: &consumed,
	})
	_, n, el := m.end()
	r := Result{Workload: cfg.Name, Topic: tgt.Topic, Batch: cfg.Batch, Committed: &acked, Errors: st.errs, FirstError: st.sample, Transport: TransportGRPC}
	r.setRate(n, el, cfg.Size)
	return r, st.fatal
}

// E2EGRPC is E2E through the gRPC proxy: a long-polling SimpleConsumer
// loop (ConsumeGRPC's) started first, then gRPC producers (ProduceGRPC's),
// paced when cfg.Rate is set; latency from the due send time stamped in
// the body to the receive.
func E2EGRPC(ctx context.Context, cfg Config, proxy string, tgt *Target) (Result, error) {
	cfg.fill()
	if cfg.Size < 16 {
		cfg.Size = 16
	}
	conn, qs, err := dialConsumer(ctx, proxy, tgt.Topic)
	if err != nil {
		return Result{}, err
	}
	defer conn.close()
	pm := newMeter(cfg.Name+"-produce", cfg.Size, nil)
	prods, err := dialProducers(ctx, cfg, proxy, tgt.Topic, pm)
	defer closeProducers(prods)
	if err != nil {
		return Result{}, err
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
		acked int64
		st    sendStats
	}
	done := make(chan out, 1)
	m.begin()
	go func() {
		acked, st := grpcConsumeRun(cctx, cfg, conn, qs, m, grpcConsumeOpts{
			hold: time.Second, onBody: clock.onBody, started: started, consumed: &consumed,
			deadline: time.Now().Add(cfg.Duration + cfg.Warmup + 60*time.Second),
		})
		done <- out{acked, st}
	}()
	var ps sendStats
	produced, late, err := e2eDrive(ctx, cfg, started, pm, &clock, &consumed, stopConsumer, func(pcfg Config, sch *schedule) {
		ps = runProducers(ctx, pcfg, tgt.Topic, prods, sch)
	})
	if err != nil {
		return Result{}, err
	}
	o := <-done
	h, n, el := m.end()
	r := Result{
		Workload: cfg.Name, Topic: tgt.Topic, Errors: ps.errs + o.st.errs, Producers: cfg.Producers, Window: cfg.Window,
		Batch: cfg.Batch, RateTarget: cfg.Rate, LateSends: &late, Committed: &o.acked, Produced: &produced,
		Transport: TransportGRPC, FirstError: ps.sample,
	}
	if r.FirstError == "" {
		r.FirstError = o.st.sample
	}
	r.setRate(n, el, cfg.Size)
	clock.finish(&r, h)
	return r, errors.Join(ps.fatal, o.st.fatal)
}
